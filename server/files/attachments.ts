import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { recordFile, type StoredFile } from './file-store.ts';

export type AttachmentOwner = { receiptId: string } | { writtenReportId: string };
/** Everything a scan can be evidence of: a receipt, a written report, a register line, a finding's rectification. */
export type EvidenceOwner = AttachmentOwner | { softwareAssetId: string } | { findingEventId: string };

function ownerColumns(owner: EvidenceOwner): { column: string; objectType: string; objectId: string } {
  if ('receiptId' in owner) return { column: 'receipt_id', objectType: 'receipt', objectId: owner.receiptId };
  if ('writtenReportId' in owner) return { column: 'written_report_id', objectType: 'written_report', objectId: owner.writtenReportId };
  if ('softwareAssetId' in owner) return { column: 'software_asset_id', objectType: 'software_asset', objectId: owner.softwareAssetId };
  return { column: 'finding_event_id', objectType: 'finding_event', objectId: owner.findingEventId };
}

/** Links stored files to a receipt or a written report, all in one transaction. */
export async function recordAttachments(db: Knex, ctx: RequestContext, owner: AttachmentOwner, files: StoredFile[]) {
  return inTransaction(db, async (trx) => {
    const items = [];
    for (const file of files) items.push(await recordAttachment(trx, ctx, owner, file));
    return items;
  });
}

/** Links stored bytes to what they are evidence of; the one writer of attachment rows and their audit entry. */
export async function recordAttachment(db: Knex, ctx: RequestContext, owner: EvidenceOwner, file: StoredFile) {
  return inTransaction(db, async (trx) => {
    await recordFile(trx, file);
    const { column, objectType, objectId } = ownerColumns(owner);
    const [row] = await trx('attachments')
      .insert({ sha256: file.sha256, file_name: file.fileName, [column]: objectId, uploaded_by: ctx.actor!.id })
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
    await recordAudit(trx, ctx, { action: 'attachment.upload', objectType, objectId, after: view });
    return view;
  });
}

/** An attachment the actor may see: its receipt's or report's department must be the actor's own, unless staff. */
export async function findAttachment(db: Knex, actor: Actor, id: string) {
  const row = await db('attachments as a')
    .join('files as f', 'f.sha256', 'a.sha256')
    .leftJoin('receipts as r', 'r.id', 'a.receipt_id')
    .leftJoin('written_reports as w', 'w.id', 'a.written_report_id')
    .leftJoin('software_assets as sa', 'sa.id', 'a.software_asset_id')
    .leftJoin('finding_events as fe', 'fe.id', 'a.finding_event_id')
    .leftJoin('findings as fi', 'fi.id', 'fe.finding_id')
    .where('a.id', id)
    .first(
      'a.id',
      'a.sha256',
      'a.file_name',
      'f.media_type',
      'f.size',
      db.raw('coalesce(r.department_id, w.department_id, sa.department_id, fi.department_id) AS department_id'),
    );
  if (!row || (actor.role === 'department' && String(row.department_id) !== actor.departmentId)) throw new AppError('NOT_FOUND', '没有这个附件');
  return { sha256: String(row.sha256), fileName: String(row.file_name), mediaType: String(row.media_type), size: Number(row.size) };
}
