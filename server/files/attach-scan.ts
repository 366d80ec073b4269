import type { Request } from 'express';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { findWrittenReport } from '../progress/written-reports.ts';
import { getReceipt } from '../receipts/receipts.ts';
import { recordAttachment, type AttachmentOwner } from './attachments.ts';
import { receiveUpload } from './file-store.ts';

/**
 * Attaches the uploaded scan to a receipt or a written report the actor may see (another unit's is
 * not found). A withdrawn receipt takes none. The same operation for the API and the pages.
 */
export async function attachScan(db: Knex, ctx: RequestContext, req: Request, limits: Pick<Config, 'dataDir' | 'uploadMaxBytes'>, owner: AttachmentOwner) {
  if ('receiptId' in owner) {
    const receipt = await getReceipt(db, ctx.actor!, owner.receiptId);
    if (receipt.status === 'withdrawn') throw new AppError('CONFLICT', '已撤回的发票不能再上传扫描件');
  } else {
    await findWrittenReport(db, ctx.actor!, owner.writtenReportId);
  }
  const file = await receiveUpload(req, limits.dataDir, limits.uploadMaxBytes);
  return recordAttachment(db, ctx, owner, file);
}
