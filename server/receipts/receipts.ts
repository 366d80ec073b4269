import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment, scopeToOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { pgArray } from '../db/pg-array.ts';
import { isUniqueViolation } from '../db/translate-error.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { formatAmount } from '../ledger/money.ts';
import { checkReceipt, type ReceiptInput } from './receipt-rules.ts';
import { pageOf } from '../db/pagination.ts';

const receiptColumns = [
  'r.id', 'r.fund_id', 'r.department_id', 'd.code as department_code', 'd.name as department_name', 'r.invoice_kind', 'r.invoice_code',
  'r.invoice_number', 'r.issue_date', 'r.seller_name', 'r.seller_tax_id', 'r.seller_tax_id_override', 'r.total', 'r.currency',
  'r.status', 'r.status_reason', 'r.submitted_by', 'r.submitted_at', 'r.reviewed_by', 'r.reviewed_at',
];

function receiptView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    fund_id: String(r.fund_id),
    department_id: String(r.department_id),
    department_code: String(r.department_code),
    department_name: String(r.department_name),
    invoice_kind: String(r.invoice_kind),
    invoice_code: r.invoice_code == null ? null : String(r.invoice_code),
    invoice_number: String(r.invoice_number),
    issue_date: String(r.issue_date),
    seller_name: String(r.seller_name),
    seller_tax_id: String(r.seller_tax_id),
    seller_tax_id_override: r.seller_tax_id_override == null ? null : String(r.seller_tax_id_override),
    total: String(r.total),
    currency: String(r.currency),
    status: String(r.status),
    status_reason: r.status_reason == null ? null : String(r.status_reason),
    submitted_by: String(r.submitted_by),
    submitted_at: (r.submitted_at as Date).toISOString(),
    reviewed_by: r.reviewed_by == null ? null : String(r.reviewed_by),
    reviewed_at: r.reviewed_at == null ? null : (r.reviewed_at as Date).toISOString(),
  };
}

export type ReceiptView = ReturnType<typeof receiptView>;

function receiptsQuery(db: Knex) {
  return db('receipts as r').join('departments as d', 'd.id', 'r.department_id');
}

/** A receipt with its lines, attachments and review history; another department's is not found. */
export async function getReceipt(db: Knex, actor: Actor, id: string) {
  const row = await scopeToOwnDepartment(receiptsQuery(db).where('r.id', id), actor, 'r.department_id').first(receiptColumns);
  if (!row) throw new AppError('NOT_FOUND', '没有这张发票');
  // Sequential: `db` may be a transaction, whose one connection takes one query at a time.
  const lines = await db('receipt_lines').where({ receipt_id: id }).orderBy('line_no').select('line_no', 'product', 'category', 'licences', 'amount', 'licence_kind');
  const attachments = await db('attachments as a').join('files as f', 'f.sha256', 'a.sha256').where('a.receipt_id', id).orderBy('a.id')
    .select('a.id', 'a.sha256', 'a.file_name', 'f.media_type', 'f.size', 'f.active_content', 'a.uploaded_at');
  const events = await db('receipt_events').where({ receipt_id: id }).orderBy('id').select('from_status', 'to_status', 'reason', 'actor_id', 'at');
  return {
    ...receiptView(row),
    lines: lines.map((l) => ({ line_no: l.line_no, product: l.product, category: l.category, licences: l.licences, amount: l.amount, licence_kind: l.licence_kind })),
    attachments: attachments.map((a) => ({
      id: String(a.id), sha256: a.sha256, file_name: a.file_name, media_type: a.media_type, size: Number(a.size),
      active_content: a.active_content, uploaded_at: (a.uploaded_at as Date).toISOString(),
    })),
    history: events.map((e) => ({ from: e.from_status, to: e.to_status, reason: e.reason, actor_id: String(e.actor_id), at: (e.at as Date).toISOString() })),
  };
}

/** Inserts receipts with their lines; the caller has checked them. Used by submission and bulk import. */
export async function insertReceipts(trx: Knex.Transaction, actor: Actor, fundId: string, items: Array<{ departmentId: string; input: ReceiptInput; checked: ReturnType<typeof checkReceipt>['checked'] }>) {
  const ids: string[] = [];
  for (const { departmentId, input, checked } of items) {
    let row: { id: string } | undefined;
    try {
      // A savepoint, so that a duplicate leaves the transaction usable to say who holds the claim.
      [row] = await trx.transaction((sp) => sp('receipts')
        .insert({
          fund_id: fundId,
          department_id: departmentId,
          invoice_kind: input.invoice_kind,
          invoice_code: checked.invoiceCode,
          invoice_number: checked.invoiceNumber,
          invoice_key: checked.invoiceKey,
          issue_date: input.issue_date,
          seller_name: input.seller_name,
          seller_tax_id: checked.sellerTaxId,
          seller_tax_id_override: checked.taxIdCheckFailed ? input.seller_tax_id_override : null,
          total: formatAmount(input.total),
          submitted_by: actor.id,
        })
        .returning('id'));
    } catch (e) {
      if (!isUniqueViolation(e, 'receipts_invoice_once')) throw e;
      const holder = await trx('receipts').where({ invoice_key: checked.invoiceKey }).whereNot('status', 'withdrawn').first('department_id');
      // Which unit holds the claim is for the finance bureau to know, not for another unit.
      const who = actor.role === 'accountant' && holder ? `（单位编号 ${holder.department_id}）` : '';
      throw new AppError('DUPLICATE_INVOICE', `发票 ${checked.invoiceKey} 已被申报${who}`, [{ field: 'invoice_number', message: '该发票已被申报，不能重复申报' }]);
    }
    await trx.raw(
      `INSERT INTO receipt_lines (receipt_id, line_no, product, category, licences, amount, licence_kind)
       SELECT ?, n, product, category, licences, amount, licence_kind
         FROM unnest(?::text[], ?::text[], ?::int[], ?::numeric[], ?::text[]) WITH ORDINALITY AS l(product, category, licences, amount, licence_kind, n)`,
      [row!.id, pgArray(input.lines.map((l) => l.product)), pgArray(input.lines.map((l) => l.category)), pgArray(input.lines.map((l) => l.licences)), pgArray(input.lines.map((l) => formatAmount(l.amount))), pgArray(input.lines.map((l) => l.licence_kind ?? 'retail'))],
    );
    await trx('receipt_events').insert({ receipt_id: row!.id, from_status: null, to_status: 'submitted', actor_id: actor.id });
    ids.push(String(row!.id));
  }
  return ids;
}

/** Checks a receipt against every rule and the caller's right to override a failing tax-id check. */
export function checkSubmission(actor: Actor, input: ReceiptInput) {
  const { errors, checked } = checkReceipt(input);
  if (checked.taxIdCheckFailed && !input.seller_tax_id_override) {
    errors.push({ field: 'seller_tax_id', message: '校验位不符（GB 32100）；如确认无误，可由会计填写理由后确认' });
  }
  if (input.seller_tax_id_override && actor.role !== 'accountant') {
    errors.push({ field: 'seller_tax_id_override', message: '只有会计可以确认校验位不符的代码' });
  }
  if (input.seller_tax_id_override && !checked.taxIdCheckFailed) {
    errors.push({ field: 'seller_tax_id_override', message: '该代码校验通过，无需确认' });
  }
  return { errors, checked };
}

export async function submitReceipt(db: Knex, ctx: RequestContext, departmentId: string, fundId: string, input: ReceiptInput) {
  const actor = ctx.actor!;
  assertOwnDepartment(actor, departmentId);
  const { errors, checked } = checkSubmission(actor, input);
  if (errors.length) throw new AppError('VALIDATION_FAILED', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
  return inTransaction(db, async (trx) => {
    if (!(await trx('departments').where({ id: departmentId }).first('id'))) throw new AppError('NOT_FOUND', '没有这个单位');
    if (!(await trx('funds').where({ id: fundId }).first('id'))) throw validationError('fund_id', 'no such fund');
    const [id] = await insertReceipts(trx, actor, fundId, [{ departmentId, input, checked }]);
    const receipt = await getReceipt(trx, actor, id!);
    await recordAudit(trx, ctx, { action: 'receipt.submit', objectType: 'receipt', objectId: id, after: receipt });
    return receipt;
  });
}

export interface ReceiptFilter {
  limit: number;
  cursor?: string | undefined;
  fund_id?: string | undefined;
  department_id?: string | undefined;
  status?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export async function listReceipts(db: Knex, actor: Actor, f: ReceiptFilter) {
  const q = scopeToOwnDepartment(receiptsQuery(db), actor, 'r.department_id').orderBy('r.id', 'desc').limit(f.limit + 1).select(receiptColumns);
  if (f.cursor) q.where('r.id', '<', f.cursor);
  if (f.fund_id) q.where('r.fund_id', f.fund_id);
  if (f.department_id) q.where('r.department_id', f.department_id);
  if (f.status) q.where('r.status', f.status);
  if (f.from) q.where('r.issue_date', '>=', f.from);
  if (f.to) q.where('r.issue_date', '<=', f.to);
  return pageOf((await q).map(receiptView), f.limit, (r) => r.id);
}
