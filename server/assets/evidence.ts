import type { Request } from 'express';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { recordAttachment, type EvidenceOwner } from '../files/attachments.ts';
import { receiveUpload } from '../files/file-store.ts';
import type { RequestContext } from '../http/context.ts';
import { getAsset } from './register.ts';

/** Links an uploaded scan to a register line or a finding's rectification. */
export async function recordEvidence(db: Knex, ctx: RequestContext, req: Request, limits: Pick<Config, 'dataDir' | 'uploadMaxBytes'>, owner: EvidenceOwner) {
  return recordAttachment(db, ctx, owner, await receiveUpload(req, limits.dataDir, limits.uploadMaxBytes));
}

/** Evidence for a pre-programme licence, while it awaits review (afterwards the record is closed). */
export async function attachAssetEvidence(db: Knex, ctx: RequestContext, req: Request, limits: Pick<Config, 'dataDir' | 'uploadMaxBytes'>, assetId: string) {
  const asset = await getAsset(db, ctx.actor!, assetId);
  if (asset.source !== 'pre_programme' || asset.status !== 'pending') throw new AppError('CONFLICT', '只有待审核的原有软件授权可以上传凭证扫描件');
  return recordEvidence(db, ctx, req, limits, { softwareAssetId: assetId });
}
