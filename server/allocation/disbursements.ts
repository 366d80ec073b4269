import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import { pageOf } from '../db/pagination.ts';
import type { RequestContext } from '../http/context.ts';
import { departmentAccountCode } from '../ledger/chart.ts';
import type { EntryDraft } from '../ledger/entry-rules.ts';
import { formatAmount } from '../ledger/money.ts';
import { checkEntryDate } from '../ledger/period-rules.ts';
import { owedOf, unitFigures } from './unit-figures.ts';

export interface PaymentInput {
  department_id: string;
  amount: Decimal;
  voucher_no: string;
  date: string;
  memo?: string | undefined;
}

export function view(r: Record<string, unknown>) {
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
    run_id: r.run_id == null ? null : String(r.run_id),
    ...(r.department_code === undefined ? {} : { department_code: String(r.department_code), department_name: String(r.department_name) }),
    ...(r.created_by_name === undefined
      ? {}
      : {
          created_by_name: r.created_by_name == null ? null : String(r.created_by_name),
          approved_by_name: r.approved_by_name == null ? null : String(r.approved_by_name),
        }),
  };
}

export async function departmentCode(trx: Knex, id: string): Promise<string> {
  const d = await trx('departments').where({ id }).first('code');
  if (!d) throw validationError('department_id', '没有这个单位');
  return d.code;
}

/** Payment: Dr 2307.d / Cr 1011 and Dr 7101.d / Cr 8001. Refund: the reverse flows. */
export function paymentEntry(
  kind: 'payment' | 'refund',
  code: string,
  p: { amount: Decimal; voucher_no: string; date: string; memo: string; departmentId: string },
): EntryDraft {
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

/**
 * What a unit can still be paid: what it is owed by kind (allocated − disbursed, never beyond its
 * 2307.d balance; unit-figures.ts) less its pending payments. Locks the payable account, so
 * concurrent preparations for one unit take turns (the database's trigger
 * disbursements_within_payable holds the 2307.d line, the unit figures' CHECKs the by-kind one).
 */
export async function unreservedPayable(trx: Knex, fundId: string, departmentId: string) {
  const account = await trx('accounts').where({ fund_id: fundId, department_id: departmentId, kind: 'payable' }).forUpdate().first('balance');
  const pending = await trx('disbursements')
    .where({ fund_id: fundId, department_id: departmentId, kind: 'payment', status: 'pending' })
    .first(trx.raw('coalesce(sum(amount), 0)::text AS reserved'));
  const figures = await trx('fund_unit_figures').where({ fund_id: fundId, department_id: departmentId }).first('allocated', 'disbursed');
  const payable = owedOf({
    allocated: new Decimal(figures?.allocated ?? 0),
    disbursed: new Decimal(figures?.disbursed ?? 0),
    payableBalance: new Decimal(account?.balance ?? 0),
  });
  const reserved = new Decimal(pending?.reserved ?? 0);
  return { payable, reserved, free: payable.minus(reserved) };
}

/** A pending payment; it reserves what it pays, and moves money only when another accountant approves it. */
export async function createDisbursement(db: Knex, ctx: RequestContext, fundId: string, p: PaymentInput, runId?: string) {
  return inTransaction(db, async (trx) => {
    const fund = await trx('funds').where({ id: fundId }).first('id', 'opening_date', 'closed_through');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    checkEntryDate(p.date, fund);
    await departmentCode(trx, p.department_id);
    const { payable, reserved, free } = await unreservedPayable(trx, fundId, p.department_id);
    if (p.amount.gt(free)) {
      const pendingWords = reserved.gt(0) ? `，其中 ${reserved.toFixed(2)} 元已有待审批的拨付，还可拨付 ${Decimal.max(free, 0).toFixed(2)} 元` : '';
      throw new AppError(
        'EXCEEDS_PAYABLE',
        `该单位应付未付 ${payable.toFixed(2)} 元${pendingWords}；本笔 ${formatAmount(p.amount)} 元超出 ${p.amount.minus(Decimal.max(free, 0)).toFixed(2)} 元。`,
      );
    }
    const [row] = await trx('disbursements')
      .insert({
        fund_id: fundId,
        department_id: p.department_id,
        amount: formatAmount(p.amount),
        voucher_no: p.voucher_no,
        pay_date: p.date,
        memo: p.memo ?? '',
        created_by: ctx.actor!.id,
        run_id: runId ?? null,
      })
      .returning('*');
    const d = view(row);
    await recordAudit(trx, ctx, { action: 'disbursement.create', objectType: 'disbursement', objectId: d.id, after: d });
    return d;
  });
}

export async function cancelDisbursement(db: Knex, ctx: RequestContext, id: string) {
  return inTransaction(db, async (trx) => {
    const d = await trx('disbursements').where({ id }).forUpdate().first('status');
    if (!d) throw new AppError('NOT_FOUND', '没有这笔拨付');
    if (d.status !== 'pending') throw new AppError('CONFLICT', `该笔拨付已${d.status === 'approved' ? '记账' : '取消'}，不能取消`);
    const [row] = await trx('disbursements')
      .where({ id })
      .update({ status: 'cancelled', cancelled_by: ctx.actor!.id, cancelled_at: trx.fn.now() })
      .returning('*');
    await recordAudit(trx, ctx, {
      action: 'disbursement.cancel',
      objectType: 'disbursement',
      objectId: id,
      before: { status: 'pending' },
      after: { status: 'cancelled' },
    });
    return view(row);
  });
}

/** A refund returns at most what the unit was paid by kind (payments net of refunds), not the 7101.d balance. */
export async function refuseRefundBeyondPaid(trx: Knex, fundId: string, departmentId: string, code: string, amount: Decimal): Promise<void> {
  const { disbursed } = await unitFigures(trx, fundId, departmentId, code);
  if (amount.gt(disbursed)) throw new AppError('EXCEEDS_PAYABLE', `该单位已拨付 ${disbursed.toFixed(2)} 元，不能退回 ${formatAmount(amount)} 元`);
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
      .insert({
        fund_id: fundId,
        department_id: p.department_id,
        kind: 'refund',
        amount: formatAmount(p.amount),
        voucher_no: p.voucher_no,
        pay_date: p.date,
        memo: p.memo ?? '',
        created_by: ctx.actor!.id,
      })
      .returning('*');
    const r = view(row);
    await recordAudit(trx, ctx, { action: 'refund.prepare', objectType: 'disbursement', objectId: r.id, after: r });
    return r;
  });
}

export async function listDisbursements(
  db: Knex,
  fundId: string,
  f: { department_id?: string | undefined; status?: string | undefined; limit?: number | undefined; cursor?: string | undefined },
) {
  const limit = f.limit ?? 500;
  const q = db('disbursements as x')
    .join('departments as d', 'd.id', 'x.department_id')
    .leftJoin('users as c', 'c.id', 'x.created_by')
    .leftJoin('users as a', 'a.id', 'x.approved_by')
    .where('x.fund_id', fundId)
    .orderBy('x.id', 'desc')
    .limit(limit + 1)
    .select('x.*', 'd.code as department_code', 'd.name as department_name', 'c.username as created_by_name', 'a.username as approved_by_name');
  if (f.department_id) q.where('x.department_id', f.department_id);
  if (f.status) q.where('x.status', f.status);
  if (f.cursor) q.where('x.id', '<', f.cursor);
  return pageOf((await q).map(view), limit, (d) => d.id);
}
