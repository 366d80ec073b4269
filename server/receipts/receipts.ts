import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment, scopeToOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { pgArray } from '../db/pg-array.ts';
import { isUniqueViolation } from '../db/translate-error.ts';
import { AppError, describeProblems, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { formatAmount } from '../ledger/money.ts';
import { checkReceipt, type ReceiptInput, type SubmissionExtras } from './receipt-rules.ts';
import { pageOf } from '../db/pagination.ts';
import { likeLiteral } from '../departments/departments.ts';

const receiptColumns = [
  'r.id',
  'r.fund_id',
  'r.department_id',
  'd.code as department_code',
  'd.name as department_name',
  'r.invoice_kind',
  'r.invoice_code',
  'r.invoice_number',
  'r.issue_date',
  'r.seller_name',
  'r.seller_tax_id',
  'r.seller_tax_id_override',
  'r.total',
  'r.tax_amount',
  'r.total_with_tax',
  'r.buyer_name',
  'r.currency',
  'r.status',
  'r.status_reason',
  'r.submitted_by',
  'r.submitted_at',
  'r.reviewed_by',
  'r.reviewed_at',
  'r.supersedes_id',
  'r.tax_id_override_reason',
  'r.tax_id_confirmed_by',
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
    tax_amount: String(r.tax_amount),
    total_with_tax: String(r.total_with_tax),
    buyer_name: r.buyer_name == null ? null : String(r.buyer_name),
    currency: String(r.currency),
    status: String(r.status),
    status_reason: r.status_reason == null ? null : String(r.status_reason),
    submitted_by: String(r.submitted_by),
    submitted_at: (r.submitted_at as Date).toISOString(),
    reviewed_by: r.reviewed_by == null ? null : String(r.reviewed_by),
    reviewed_at: r.reviewed_at == null ? null : (r.reviewed_at as Date).toISOString(),
    supersedes_id: r.supersedes_id == null ? null : String(r.supersedes_id),
    tax_id_override_reason: r.tax_id_override_reason == null ? null : String(r.tax_id_override_reason),
    tax_id_confirmed_by: r.tax_id_confirmed_by == null ? null : String(r.tax_id_confirmed_by),
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
  const lines = await db('receipt_lines')
    .where({ receipt_id: id })
    .orderBy('line_no')
    .select('line_no', 'product', 'category', 'licences', 'amount', 'licence_kind');
  const attachments = await db('attachments as a')
    .join('files as f', 'f.sha256', 'a.sha256')
    .where('a.receipt_id', id)
    .orderBy('a.id')
    .select('a.id', 'a.sha256', 'a.file_name', 'f.media_type', 'f.size', 'f.active_content', 'a.uploaded_at');
  const events = await db('receipt_events as e')
    .leftJoin('users as u', 'u.id', 'e.actor_id')
    .where({ receipt_id: id })
    .orderBy('e.id')
    .select('e.from_status', 'e.to_status', 'e.reason', 'e.actor_id', 'u.username as actor_name', 'e.at');
  // The newest correction of this receipt, if the unit has submitted one.
  const replacement = await db('receipts').where({ supersedes_id: id }).orderBy('id', 'desc').first('id', 'status');
  const people = await db('users')
    .whereIn(
      'id',
      [row.submitted_by, row.reviewed_by, row.tax_id_confirmed_by].filter((x) => x != null),
    )
    .select('id', 'username');
  const nameOf = (userId: unknown) => (userId == null ? null : (people.find((p) => String(p.id) === String(userId))?.username ?? null));
  return {
    ...receiptView(row),
    superseded_by: replacement ? String(replacement.id) : null,
    superseded_by_status: replacement ? String(replacement.status) : null,
    submitted_by_name: nameOf(row.submitted_by),
    reviewed_by_name: nameOf(row.reviewed_by),
    tax_id_confirmed_by_name: nameOf(row.tax_id_confirmed_by),
    lines: lines.map((l) => ({
      line_no: l.line_no,
      product: l.product,
      category: l.category,
      licences: l.licences,
      amount: l.amount,
      licence_kind: l.licence_kind,
    })),
    attachments: attachments.map((a) => ({
      id: String(a.id),
      sha256: a.sha256,
      file_name: a.file_name,
      media_type: a.media_type,
      size: Number(a.size),
      active_content: a.active_content,
      uploaded_at: (a.uploaded_at as Date).toISOString(),
    })),
    history: events.map((e) => ({
      from: e.from_status,
      to: e.to_status,
      reason: e.reason,
      actor_id: String(e.actor_id),
      actor_name: e.actor_name ?? null,
      at: (e.at as Date).toISOString(),
    })),
  };
}

/** Inserts receipts with their lines; the caller has checked them. Used by submission and bulk import. */
export async function insertReceipts(
  trx: Knex.Transaction,
  actor: Actor,
  fundId: string,
  items: Array<{ departmentId: string; input: ReceiptInput; checked: ReturnType<typeof checkReceipt>['checked']; extras?: SubmissionExtras }>,
) {
  const ids: string[] = [];
  for (const { departmentId, input, checked, extras } of items) {
    let row: { id: string } | undefined;
    try {
      // A savepoint, so that a duplicate leaves the transaction usable to say who holds the claim.
      [row] = await trx.transaction((sp) =>
        sp('receipts')
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
            tax_id_override_reason: checked.taxIdCheckFailed ? (extras?.tax_id_override_reason ?? null) : null,
            supersedes_id: extras?.supersedes_id ?? null,
            total: formatAmount(input.total),
            tax_amount: formatAmount(input.tax_amount ?? new Decimal(0)),
            buyer_name: input.buyer_name ?? null,
            submitted_by: actor.id,
          })
          .returning('id'),
      );
    } catch (e) {
      if (!isUniqueViolation(e, 'receipts_invoice_once')) throw e;
      const holder = await trx('receipts as r')
        .join('departments as d', 'd.id', 'r.department_id')
        .where('r.invoice_key', checked.invoiceKey)
        .whereIn('r.status', ['submitted', 'verified'])
        .first('r.id', 'r.department_id', 'd.code', 'd.name');
      // Which unit holds the claim is for the finance bureau to know, not for another unit.
      const who = actor.role === 'accountant' && holder ? `（由${holder.name}（${holder.code}）申报）` : '';
      const own = holder && actor.role === 'department' && String(holder.department_id) === actor.departmentId;
      const hint = own ? '本单位已申报过这张发票：待审核的如需更正，请先撤回再重新提交；已审核通过的，请联系财政厅会计。' : '同一张发票只能申报一次。';
      throw new AppError('DUPLICATE_INVOICE', `发票 ${checked.invoiceKey} 已被申报${who}。${hint}`, [
        { field: 'invoice_number', message: '该发票已被申报，不能重复申报' },
      ]);
    }
    await trx.raw(
      `INSERT INTO receipt_lines (receipt_id, line_no, product, category, licences, amount, licence_kind)
       SELECT ?, n, product, category, licences, amount, licence_kind
         FROM unnest(?::text[], ?::text[], ?::int[], ?::numeric[], ?::text[]) WITH ORDINALITY AS l(product, category, licences, amount, licence_kind, n)`,
      [
        row!.id,
        pgArray(input.lines.map((l) => l.product)),
        pgArray(input.lines.map((l) => l.category)),
        pgArray(input.lines.map((l) => l.licences)),
        pgArray(input.lines.map((l) => formatAmount(l.amount))),
        pgArray(input.lines.map((l) => l.licence_kind ?? 'retail')),
      ],
    );
    await trx('receipt_events').insert({ receipt_id: row!.id, from_status: null, to_status: 'submitted', actor_id: actor.id });
    ids.push(String(row!.id));
  }
  return ids;
}

/**
 * Checks a receipt against every rule. A seller code whose check character fails needs a reason:
 * an accountant confirms it at once (`seller_tax_id_override`); a unit asks (`tax_id_override_reason`)
 * and the accountant who verifies the receipt confirms it then.
 */
export function checkSubmission(actor: Actor, input: ReceiptInput, extras: SubmissionExtras = {}) {
  const { errors, checked } = checkReceipt(input);
  const reason = extras.tax_id_override_reason;
  if (checked.taxIdCheckFailed && !input.seller_tax_id_override && !reason) {
    errors.push({ field: 'seller_tax_id', message: '校验位不符（GB 32100）；如核对发票后确认代码无误，请填写“校验位不符的理由”，由会计审核时确认' });
  }
  if (input.seller_tax_id_override && actor.role !== 'accountant') {
    errors.push({ field: 'seller_tax_id_override', message: '单位请填写“校验位不符的理由”，由会计审核时确认' });
  }
  if ((input.seller_tax_id_override || reason) && !checked.taxIdCheckFailed) {
    errors.push({ field: input.seller_tax_id_override ? 'seller_tax_id_override' : 'tax_id_override_reason', message: '该代码校验通过，无需说明理由' });
  }
  return { errors, checked };
}

export async function submitReceipt(db: Knex, ctx: RequestContext, departmentId: string, fundId: string, input: ReceiptInput, extras: SubmissionExtras = {}) {
  const actor = ctx.actor!;
  assertOwnDepartment(actor, departmentId);
  const { errors, checked } = checkSubmission(actor, input, extras);
  if (errors.length) throw new AppError('VALIDATION_FAILED', describeProblems(errors), errors);
  return inTransaction(db, async (trx) => {
    const department = await trx('departments').where({ id: departmentId }).first('id', 'active');
    if (!department) throw new AppError('NOT_FOUND', '没有这个单位');
    if (!department.active) throw new AppError('CONFLICT', '该单位已停用，不能再提交发票');
    if (!(await trx('funds').where({ id: fundId }).first('id'))) throw validationError('fund_id', '没有这项资金');
    if (extras.supersedes_id) await assertReplaceable(trx, actor, extras.supersedes_id, departmentId, fundId);
    const [id] = await insertReceipts(trx, actor, fundId, [{ departmentId, input, checked, extras }]);
    const receipt = await getReceipt(trx, actor, id!);
    await recordAudit(trx, ctx, { action: 'receipt.submit', objectType: 'receipt', objectId: id, after: receipt });
    return receipt;
  });
}

/** A correction replaces a receipt of the same unit and fund that was rejected or withdrawn. */
async function assertReplaceable(trx: Knex, actor: Actor, oldId: string, departmentId: string, fundId: string) {
  const old = await scopeToOwnDepartment(trx('receipts as r').where('r.id', oldId), actor, 'r.department_id')
    .forShare()
    .first('r.id', 'r.status', 'r.department_id', 'r.fund_id');
  if (!old || String(old.department_id) !== departmentId) throw new AppError('NOT_FOUND', '没有要更正的那张发票');
  if (String(old.fund_id) !== fundId) throw validationError('supersedes_id', '更正后的发票须申报同一项资金');
  if (!['rejected', 'withdrawn'].includes(old.status)) {
    throw new AppError('CONFLICT', '只有已退回或已撤回的发票可以更正后重新提交；待审核的发票请先撤回');
  }
  const live = await trx('receipts').where({ supersedes_id: oldId }).whereIn('status', ['submitted', 'verified']).first('id');
  if (live) throw new AppError('CONFLICT', `这张发票已由第 ${live.id} 号发票更正，不能再次更正`);
}

export interface ReceiptFilter {
  limit: number;
  cursor?: string | undefined;
  fund_id?: string | undefined;
  department_id?: string | undefined;
  status?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** A unit's code (from its start) or name, or an invoice number. */
  q?: string | undefined;
}

export async function listReceipts(db: Knex, actor: Actor, f: ReceiptFilter) {
  const q = scopeToOwnDepartment(receiptsQuery(db), actor, 'r.department_id')
    .orderBy('r.id', 'desc')
    .limit(f.limit + 1)
    .select(receiptColumns);
  if (f.cursor) q.where('r.id', '<', f.cursor);
  if (f.fund_id) q.where('r.fund_id', f.fund_id);
  if (f.department_id) q.where('r.department_id', f.department_id);
  if (f.status) q.where('r.status', f.status);
  if (f.from) q.where('r.issue_date', '>=', f.from);
  if (f.to) q.where('r.issue_date', '<=', f.to);
  const text = f.q?.trim().toLowerCase();
  if (text) {
    const like = likeLiteral(text);
    q.where((w) =>
      w
        .whereRaw('lower(d.code) LIKE ?', [`${like}%`])
        .orWhereRaw('lower(d.name) LIKE ?', [`%${like}%`])
        .orWhere('r.invoice_number', text),
    );
  }
  return pageOf((await q).map(receiptView), f.limit, (r) => r.id);
}
