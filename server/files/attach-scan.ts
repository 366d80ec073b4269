import type { Request } from 'express';
import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { findWrittenReport } from '../progress/written-reports.ts';
import { getReceipt } from '../receipts/receipts.ts';
import { recordAttachments, type AttachmentOwner } from './attachments.ts';
import { receiveUploads } from './file-store.ts';

const closedReceipt: Record<string, string> = {
  verified: '该发票已审核通过，证据不能再变动，不能再上传扫描件',
  rejected: '该发票已退回，不能再上传扫描件；请更正后重新提交发票，再上传扫描件',
  withdrawn: '该发票已撤回，不能再上传扫描件',
};

/**
 * Attaches the uploaded scans to a receipt or a written report the actor may see (another unit's
 * is not found). Only a submitted receipt takes scans: evidence does not change after review. Every
 * file of the request is recorded, or none. The same operation for the API and the pages: one file
 * answers the attachment, several answer `{items}`.
 */
export async function attachScan(db: Knex, ctx: RequestContext, req: Request, limits: Pick<Config, 'dataDir' | 'uploadMaxBytes'>, owner: AttachmentOwner) {
  if ('receiptId' in owner) {
    const receipt = await getReceipt(db, ctx.actor!, owner.receiptId);
    const closed = closedReceipt[receipt.status];
    if (closed) {
      req.resume();
      throw new AppError('CONFLICT', closed);
    }
  } else {
    await findWrittenReport(db, ctx.actor!, owner.writtenReportId);
  }
  const received = await receiveUploads(req, limits.dataDir, limits.uploadMaxBytes);
  let items;
  try {
    items = await recordAttachments(db, ctx, owner, received.files);
  } catch (e) {
    await received.discard();
    throw e;
  }
  return items.length === 1 ? items[0]! : { items };
}
