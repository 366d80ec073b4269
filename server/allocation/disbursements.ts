import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { departmentAccountCode } from '../ledger/chart.ts';
import type { EntryDraft } from '../ledger/entry-rules.ts';
import { formatAmount } from '../ledger/money.ts';
import { checkEntryDate } from '../ledger/period-rules.ts';
import { postEntries } from '../ledger/post-entries.ts';
import { owedOf, unitFigures } from './unit-figures.ts';

export interface PaymentInput {
  department_id: string;
  amount: Decimal;
  voucher_no: string;
  date: string;
  memo?: string | undefined;
}

function view(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    fund_id: String(r.fund_id),
    department_id: String(r.department_id),
    kind: String(r.kind),
    amount: String(r.amount),
    voucher_no: String(r.voucher_no),
    date: String(r.pay_date),
    status: String(r.status),
    memo: String(r.memo),
    created_by: String(r.created_by),
    created_at: (r.created_at as Date).toISOString(),
    approved_by: r.approved_by == null ? null : String(r.approved_by),
    approved_at: r.approved_at == null ? null : (r.approved_at as Date).toISOString(),
    entry_id: r.entry_id == null ? null : String(r.entry_id),
  };
}

async function departmentCode(trx: Knex, id: string): Promise<string> {
  const d = await trx('departments').where({ id }).first('code');
  if (!d) throw validationError('department_id', '没有这个单位');
  return d.code;
}

/** Payment: Dr 2307.d / Cr 1011 and Dr 7101.d / Cr 8001. Refund: the reverse flows. */
function paymentEntry(kind: 'payment' | 'refund', code: string, p: { amount: Decimal; voucher_no: string; date: string; memo: string; departmentId: string }): EntryDraft {
  const a = p.amount;
  const payment = kind === 'payment';
  return {
    date: p.date,
    kind: payment ? 'disbursement' : 'refund',
    memo: p.memo || (payment ? `拨付以奖代补资金 ${p.voucher_no}` : `单位退回以奖代补资金 ${p.voucher_no}`),
    documentNo: p.voucher_no,
    departmentId: p.departmentId,
    postings: [
      { accountCode: departmentAccountCode('2307', code), side: payment ? 'debit' : 'credit', amount: a },
      { accountCode: '1011', side: payment ? 'credit' : 'debit', amount: a },
      { accountCode: departmentAccountCode('7101', code), side: payment ? 'debit' : 'credit', amount: a },
      { accountCode: '8001', side: payment ? 'credit' : 'debit', amount: a },
    ],
  };
}

/** A pending payment; it moves money only when another accountant approves it. */
export async function createDisbursement(db: Knex, ctx: RequestContext, fundId: string, p: PaymentInput) {
  return inTransaction(db, async (trx) => {
    const fund = await trx('funds').where({ id: fundId }).first('id', 'opening_date', 'closed_through');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    checkEntryDate(p.date, fund);
    const code = await departmentCode(trx, p.department_id);
    await refusePaymentBeyondOwed(trx, fundId, p.department_id, code, p.amount);
    const [row] = await trx('disbursements')
      .insert({ fund_id: fundId, department_id: p.department_id, amount: formatAmount(p.amount), voucher_no: p.voucher_no, pay_date: p.date, memo: p.memo ?? '', created_by: ctx.actor!.id })
      .returning('*');
    const d = view(row);
    await recordAudit(trx, ctx, { action: 'disbursement.create', objectType: 'disbursement', objectId: d.id, after: d });
    return d;
  });
}

/** Approval by another accountant posts the payment; the payable guard makes overpaying impossible under any concurrency. */
export async function approveDisbursement(db: Knex, ctx: RequestContext, id: string) {
  return inTransaction(db, async (trx) => {
    const d = await trx('disbursements').where({ id }).forUpdate().first();
    if (!d) throw new AppError('NOT_FOUND', '没有这笔拨付');
    if (d.status === 'approved') throw new AppError('ALREADY_POSTED', `该笔${d.kind === 'refund' ? '退回' : '拨付'}已审批记账`);
    if (d.status !== 'pending') throw new AppError('CONFLICT', `该笔${d.kind === 'refund' ? '退回' : '拨付'}已取消`);
    if (String(d.created_by) === ctx.actor!.id) throw new AppError('SAME_ACCOUNTANT', '制单会计不能审批自己提交的拨付');
    const code = await departmentCode(trx, String(d.department_id));
    const kind = d.kind as 'payment' | 'refund';
    // Under the fund's lock, so two approvals at once cannot together pay more than is owed or
    // return more than was paid (the figures' CHECKs refuse it in the database as well).
    await trx('funds').where({ id: d.fund_id }).forUpdate().first('id');
    if (kind === 'refund') await refuseRefundBeyondPaid(trx, String(d.fund_id), String(d.department_id), code, new Decimal(d.amount));
    else await refusePaymentBeyondOwed(trx, String(d.fund_id), String(d.department_id), code, new Decimal(d.amount));
    // The entry's two people are the payment's: who prepared it (制单) and who approves it (审核).
    const [entry] = await postEntries(trx, String(d.fund_id), { createdBy: String(d.created_by), approvedBy: ctx.actor!.id }, [
      paymentEntry(kind, code, { amount: new Decimal(d.amount), voucher_no: d.voucher_no, date: d.pay_date, memo: d.memo, departmentId: String(d.department_id) }),
    ]);
    const [row] = await trx('disbursements').where({ id }).update({ status: 'approved', approved_by: ctx.actor!.id, approved_at: trx.fn.now(), entry_id: entry!.id }).returning('*');
    const after = view(row);
    await recordAudit(trx, ctx, { action: 'disbursement.approve', objectType: 'disbursement', objectId: id, before: { status: 'pending' }, after });
    return after;
  });
}

export async function cancelDisbursement(db: Knex, ctx: RequestContext, id: string) {
  return inTransaction(db, async (trx) => {
    const d = await trx('disbursements').where({ id }).forUpdate().first('status');
    if (!d) throw new AppError('NOT_FOUND', '没有这笔拨付');
    if (d.status !== 'pending') throw new AppError('CONFLICT', `该笔拨付已${d.status === 'approved' ? '记账' : '取消'}，不能取消`);
    const [row] = await trx('disbursements').where({ id }).update({ status: 'cancelled', cancelled_by: ctx.actor!.id, cancelled_at: trx.fn.now() }).returning('*');
    await recordAudit(trx, ctx, { action: 'disbursement.cancel', objectType: 'disbursement', objectId: id, before: { status: 'pending' }, after: { status: 'cancelled' } });
    return view(row);
  });
}

/** A refund returns at most what the unit was paid by kind (payments net of refunds), not the 7101.d balance. */
async function refuseRefundBeyondPaid(trx: Knex, fundId: string, departmentId: string, code: string, amount: Decimal): Promise<void> {
  const { disbursed } = await unitFigures(trx, fundId, departmentId, code);
  if (amount.gt(disbursed)) throw new AppError('EXCEEDS_PAYABLE', `该单位已拨付 ${disbursed.toFixed(2)} 元，不能退回 ${formatAmount(amount)} 元`);
}

/**
 * A payment pays at most what the unit is owed by kind (allocated − disbursed), and never beyond the
 * 2307.d balance: a payable credited by a manual entry is a correction of the books, not an allocation.
 */
async function refusePaymentBeyondOwed(trx: Knex, fundId: string, departmentId: string, code: string, amount: Decimal): Promise<void> {
  const owed = owedOf(await unitFigures(trx, fundId, departmentId, code));
  if (amount.gt(owed)) throw new AppError('EXCEEDS_PAYABLE', `该单位应付未付 ${owed.toFixed(2)} 元，${formatAmount(amount)} 元超出`);
}

/**
 * Money a unit returns: never more than it was paid. Prepared like a payment and posted when another
 * accountant approves it (POST /disbursements/:id/approve); the bank receipt is its evidence.
 */
export async function prepareRefund(db: Knex, ctx: RequestContext, fundId: string, p: PaymentInput) {
  return inTransaction(db, async (trx) => {
    const fund = await trx('funds').where({ id: fundId }).first('id', 'opening_date', 'closed_through');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    checkEntryDate(p.date, fund);
    const code = await departmentCode(trx, p.department_id);
    await refuseRefundBeyondPaid(trx, fundId, p.department_id, code, p.amount);
    const [row] = await trx('disbursements')
      .insert({ fund_id: fundId, department_id: p.department_id, kind: 'refund', amount: formatAmount(p.amount), voucher_no: p.voucher_no, pay_date: p.date, memo: p.memo ?? '', created_by: ctx.actor!.id })
      .returning('*');
    const r = view(row);
    await recordAudit(trx, ctx, { action: 'refund.prepare', objectType: 'disbursement', objectId: r.id, after: r });
    return r;
  });
}

export async function listDisbursements(db: Knex, fundId: string, f: { department_id?: string | undefined; status?: string | undefined }) {
  const q = db('disbursements').where({ fund_id: fundId }).orderBy('id', 'desc');
  if (f.department_id) q.where('department_id', f.department_id);
  if (f.status) q.where('status', f.status);
  return { items: (await q).map(view) };
}
