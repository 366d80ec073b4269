import type { Request } from 'express';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Config } from '../config.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import { receiveUpload, recordFile } from '../files/file-store.ts';
import type { RequestContext } from '../http/context.ts';
import { getAsset } from './register.ts';

export type EvidenceOwner = { softwareAssetId: string } | { findingEventId: string };

/** Links stored bytes to a register line or a finding's rectification, in the caller's checks' wake. */
export async function recordEvidence(db: Knex, ctx: RequestContext, req: Request, limits: Pick<Config, 'dataDir' | 'uploadMaxBytes'>, owner: EvidenceOwner) {
  const file = await receiveUpload(req, limits.dataDir, limits.uploadMaxBytes);
  return inTransaction(db, async (trx) => {
    await recordFile(trx, file);
    const [row] = await trx('attachments')
      .insert({
        sha256: file.sha256,
        file_name: file.fileName,
        software_asset_id: 'softwareAssetId' in owner ? owner.softwareAssetId : null,
        finding_event_id: 'findingEventId' in owner ? owner.findingEventId : null,
        uploaded_by: ctx.actor!.id,
      })
      .returning(['id', 'uploaded_at']);
    const view = {
      id: String(row.id),
      sha256: file.sha256,
      media_type: file.mediaType,
      size: file.size,
      file_name: file.fileName,
      active_content: file.activeContent,
      uploaded_at: (row.uploaded_at as Date).toISOString(),
    };
    const [objectType, objectId] = 'softwareAssetId' in owner ? ['software_asset', owner.softwareAssetId] : ['finding_event', owner.findingEventId];
    await recordAudit(trx, ctx, { action: 'attachment.upload', objectType, objectId, after: view });
    return view;
  });
}

/** Evidence for a pre-programme licence, while it awaits review (afterwards the record is closed). */
export async function attachAssetEvidence(db: Knex, ctx: RequestContext, req: Request, limits: Pick<Config, 'dataDir' | 'uploadMaxBytes'>, assetId: string) {
  const asset = await getAsset(db, ctx.actor!, assetId);
  if (asset.source !== 'pre_programme' || asset.status !== 'pending') throw new AppError('CONFLICT', '只有待审核的原有软件授权可以上传凭证扫描件');
  return recordEvidence(db, ctx, req, limits, { softwareAssetId: assetId });
}
