import type { Knex } from 'knex';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { attachScan } from '../files/attach-scan.ts';
import type { Sheet } from '../http/body.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { json, route } from '../http/route.ts';
import { attachment, receipt, receiptImport, receiptPage, receiptWithWarnings } from './responses/receipts.ts';
import { calendarDate, cursorParam, idParam, limitParam } from '../http/schemas.ts';
import { receiptBody } from '../receipts/receipt-rules.ts';
import { importReceipts } from '../receipts/receipt-import.ts';
import { getReceipt, listReceipts, submitReceipt } from '../receipts/receipts.ts';
import { reviewReceipt } from '../receipts/review.ts';
import { AppError } from '../errors.ts';
import { receiptLicenceWarnings } from '../assets/compliance.ts';

const receiptId = z.strictObject({ id: idParam });
const receiptStatuses = ['submitted', 'verified', 'rejected', 'withdrawn'] as const;

export function receiptRoutes(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/departments/:id/receipts',
        action: 'receipts.submit',
        tag: 'receipts',
        summary: 'Submit a purchase receipt (one invoice) as evidence for a fund',
        params: z.strictObject({ id: idParam }),
        body: receiptBody,
        response: json(201, 'the receipt', receipt),
        errors: { 404: 'NOT_FOUND (also another department)', 409: 'DUPLICATE_INVOICE', 422: 'VALIDATION_FAILED naming each field' },
      },
      async (req, res, { params, body }) => {
        const { fund_id, supersedes_id, tax_id_override_reason, ...content } = body;
        return res.status(201).json(await submitReceipt(db, contextOf(req), params.id, fund_id, content, { supersedes_id, tax_id_override_reason }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/receipts',
        action: 'receipts.read',
        tag: 'receipts',
        summary: 'Receipts, newest first (a department sees its own)',
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          fund_id: idParam.optional(),
          department_id: idParam.optional(),
          status: z.enum(receiptStatuses).optional(),
          from: calendarDate.optional(),
          to: calendarDate.optional(),
          q: z.string().max(200, '最多 200 个字符').optional(),
        }),
        response: json(200, '{items, next_cursor}', receiptPage),
      },
      async (req, res, { query }) => {
        return res.json(await listReceipts(db, actorOf(req), { ...query, limit: query.limit ?? 100 }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/receipts/:id',
        action: 'receipts.read',
        tag: 'receipts',
        summary: 'A receipt with its lines, attachments and review history',
        params: receiptId,
        response: json(200, 'the receipt', receiptWithWarnings),
      },
      async (req, res, { params }) => {
        const receipt = await getReceipt(db, actorOf(req), params.id);
        return res.json({ ...receipt, warnings: await receiptLicenceWarnings(db, receipt) });
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/receipts/:id/verify',
        action: 'receipts.review',
        tag: 'receipts',
        summary: 'Verify a submitted receipt; one whose unit asked for a failing seller code needs confirm_tax_id: true',
        params: receiptId,
        body: z.strictObject({ confirm_tax_id: z.boolean({ error: '须为 true 或 false' }).optional() }),
        response: json(200, 'the receipt', receipt),
        errors: { 409: 'CONFLICT or TAX_ID_NOT_CONFIRMED' },
      },
      async (req, res, { params, body }) => {
        return res.json(await reviewReceipt(db, contextOf(req), params.id, 'verified', undefined, { confirmTaxId: body.confirm_tax_id === true }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/receipts/:id/reject',
        action: 'receipts.review',
        tag: 'receipts',
        summary: 'Reject a submitted or verified receipt, with the reason',
        params: receiptId,
        body: z.strictObject({ reason: z.string().trim().min(1, '请填写退回理由').max(1000, '最多 1000 个字符') }),
        response: json(200, 'the receipt', receipt),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params, body }) => {
        return res.json(await reviewReceipt(db, contextOf(req), params.id, 'rejected', body.reason));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/receipts/:id/withdraw',
        action: 'receipts.withdraw',
        tag: 'receipts',
        summary: 'Withdraw a submitted receipt (its department)',
        params: receiptId,
        body: z.strictObject({}),
        response: json(200, 'the receipt', receipt),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params }) => {
        return res.json(await reviewReceipt(db, contextOf(req), params.id, 'withdrawn'));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/receipts/:id/attachments',
        action: 'attachments.upload',
        tag: 'receipts',
        bodyType: 'multipart',
        summary: 'Attach a scan (multipart field "file": PDF, JPEG or PNG, recognised by its bytes)',
        params: receiptId,
        response: json(201, 'the stored scan (several files: {items})', attachment),
        errors: { 409: 'CONFLICT: the receipt or report is no longer open to scans' },
      },
      async (req, res, { params }) => {
        return res.status(201).json(await attachScan(db, contextOf(req), req, config, { receiptId: params.id }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/written-reports/:id/attachments',
        action: 'attachments.upload',
        tag: 'progress',
        bodyType: 'multipart',
        summary: 'Attach a signed scan to a written report',
        params: receiptId,
        response: json(201, 'the stored scan (several files: {items})', attachment),
        errors: { 409: 'CONFLICT: the receipt or report is no longer open to scans' },
      },
      async (req, res, { params }) => {
        return res.status(201).json(await attachScan(db, contextOf(req), req, config, { writtenReportId: params.id }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/receipts/import',
        action: 'receipts.import',
        tag: 'receipts',
        bodyType: 'upload',
        summary: 'Import receipts from CSV or XLSX, one row per line, all or nothing',
        params: z.strictObject({ id: idParam }),
        response: json(201, '{created, receipt_ids}', receiptImport),
        errors: { 422: 'CSV_INVALID with errors by row' },
      },
      async (req, res, { params, body }) => {
        if (!body) throw new AppError('VALIDATION_FAILED', '请以请求内容发送 CSV 或 XLSX 文件', [{ field: 'body', message: '内容为空' }]);
        return res.status(201).json(await importReceipts(db, contextOf(req), params.id, body as Sheet));
      },
    ),
  ];
}
