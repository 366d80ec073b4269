import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { departmentAccountCode } from '../ledger/chart.ts';
import { postEntries } from '../ledger/post-entries.ts';
import { paymentEntry, refuseRefundBeyondPaid, view } from './disbursements.ts';
import { owedOf } from './unit-figures.ts';

interface Shortfall {
  what: string;
  have: Decimal;
  need: Decimal;
}

/** A shortfall as a sentence an accountant can act on. */
const shortfallWords = (s: Shortfall) =>
  `${s.what}现有 ${s.have.toFixed(2)} 元，本次需拨付 ${s.need.toFixed(2)} 元，还差 ${s.need.minus(s.have).toFixed(2)} 元`;

/**
 * Another accountant approves pending payments, all or none, in one transaction: each unit's
 * payable (2307.d) and the fund's quota (1011) and funds on hand (8001) must cover what is paid.
 * What is short is said per unit in words before anything posts; the ledger's own guards remain
 * the last line. Payments are locked in id order, then the fund, as a single approval does.
 */
export async function approveDisbursements(db: Knex, ctx: RequestContext, ids: string[]) {
  const actor = ctx.actor!;
  const wanted = [...new Set(ids)].sort((a, b) => Number(a) - Number(b));
  return inTransaction(db, async (trx) => {
    const rows = await trx('disbursements as x')
      .join('departments as d', 'd.id', 'x.department_id')
      .whereIn('x.id', wanted)
      .orderBy('x.id')
      .forUpdate('x')
      .select('x.*', 'd.code as department_code', 'd.name as department_name');
    if (rows.length !== wanted.length) {
      const found = new Set(rows.map((r) => String(r.id)));
      throw new AppError('NOT_FOUND', `没有第 ${wanted.filter((id) => !found.has(id)).join('、')} 号拨付`);
    }
    const decided = rows.filter((r) => r.status !== 'pending');
    if (decided.length) {
      const which = decided.map((r) => `第 ${r.id} 号（${r.department_name}）已${r.status === 'approved' ? '记账' : '取消'}`).join('；');
      // Approving again what is posted is ALREADY_POSTED, as for entries; a cancelled one is a conflict.
      throw new AppError(decided.every((r) => r.status === 'approved') ? 'ALREADY_POSTED' : 'CONFLICT', `未审批任何拨付：${which}`);
    }
    const notPayments = rows.filter((r) => r.kind !== 'payment');
    if (notPayments.length) throw new AppError('CONFLICT', `第 ${notPayments.map((r) => r.id).join('、')} 号不是拨付，不能在此审批`);
    if (rows.some((r) => String(r.created_by) === actor.id)) {
      const own = rows
        .filter((r) => String(r.created_by) === actor.id)
        .map((r) => r.id)
        .join('、');
      throw new AppError('SAME_ACCOUNTANT', `制单会计不能审批自己提交的拨付（第 ${own} 号）`);
    }
    const funds = [...new Set(rows.map((r) => String(r.fund_id)))];
    if (funds.length > 1) throw validationError('ids', '一次只能审批同一项资金的拨付');
    const fundId = funds[0]!;
    await trx('funds').where({ id: fundId }).forUpdate().first('id');
    const shortfalls = await shortfallsOf(trx, fundId, rows);
    if (shortfalls.length) throw new AppError('INSUFFICIENT_BALANCE', `未审批任何拨付：${shortfalls.map(shortfallWords).join('；')}。`);
    // Each entry's two people are its payment's: who prepared it (制单) and who approves it (审核);
    // payments prepared by different accountants post as one group per preparer, in id order.
    const entryIdOf = new Map<string, string>();
    for (const preparer of [...new Set(rows.map((d) => String(d.created_by)))]) {
      const mine = rows.filter((d) => String(d.created_by) === preparer);
      const posted = await postEntries(
        trx,
        fundId,
        { createdBy: preparer, approvedBy: actor.id },
        mine.map((d) =>
          paymentEntry('payment', d.department_code, {
            amount: new Decimal(d.amount),
            voucher_no: d.voucher_no,
            date: d.pay_date,
            memo: d.memo,
            departmentId: String(d.department_id),
          }),
        ),
      );
      mine.forEach((d, i) => entryIdOf.set(String(d.id), posted[i]!.id));
    }
    const items = [];
    for (const d of rows) {
      const [row] = await trx('disbursements')
        .where({ id: d.id })
        .update({ status: 'approved', approved_by: actor.id, approved_at: trx.fn.now(), entry_id: entryIdOf.get(String(d.id)) })
        .returning('*');
      const after = view(row);
      await recordAudit(trx, ctx, { action: 'disbursement.approve', objectType: 'disbursement', objectId: after.id, before: { status: 'pending' }, after });
      items.push(after);
    }
    return { items };
  });
}

interface PendingPayment {
  amount: string;
  department_id: string | number;
  department_code: string;
  department_name: string;
}

/** Each unit is short when what it is owed by kind (unit-figures.ts), not merely its 2307.d balance, falls below what is paid. */
async function shortfallsOf(trx: Knex, fundId: string, rows: PendingPayment[]): Promise<Shortfall[]> {
  const needByUnit = new Map<string, { id: string; name: string; code: string; need: Decimal }>();
  let total = new Decimal(0);
  for (const r of rows) {
    const u = needByUnit.get(r.department_code) ?? { id: String(r.department_id), name: r.department_name, code: r.department_code, need: new Decimal(0) };
    u.need = u.need.plus(r.amount);
    needByUnit.set(r.department_code, u);
    total = total.plus(r.amount);
  }
  const codes = ['1011', '8001', ...[...needByUnit.keys()].map((c) => departmentAccountCode('2307', c))];
  const balances = new Map<string, Decimal>(
    (await trx('accounts').where({ fund_id: fundId }).whereIn('code', codes).select('code', 'balance')).map((a) => [a.code, new Decimal(a.balance)]),
  );
  const figures = new Map(
    (
      await trx('fund_unit_figures')
        .where({ fund_id: fundId })
        .whereIn(
          'department_id',
          [...needByUnit.values()].map((u) => u.id),
        )
        .select('department_id', 'allocated', 'disbursed')
    ).map((f) => [String(f.department_id), { allocated: new Decimal(f.allocated), disbursed: new Decimal(f.disbursed) }]),
  );
  const short: Shortfall[] = [];
  for (const u of needByUnit.values()) {
    const f = figures.get(u.id) ?? { allocated: new Decimal(0), disbursed: new Decimal(0) };
    const have = owedOf({ ...f, payableBalance: balances.get(departmentAccountCode('2307', u.code)) ?? new Decimal(0) });
    if (u.need.gt(have)) short.push({ what: `${u.name}（${u.code}）的应付未付奖励`, have, need: u.need });
  }
  const quota = balances.get('1011') ?? new Decimal(0);
  if (total.gt(quota)) short.push({ what: '零余额账户用款额度', have: quota, need: total });
  const onHand = balances.get('8001') ?? new Decimal(0);
  if (total.gt(onHand)) short.push({ what: '资金结存', have: onHand, need: total });
  return short;
}

/** Approval by another accountant posts one payment, or one refund (never more than the unit was paid). */
export async function approveDisbursement(db: Knex, ctx: RequestContext, id: string) {
  const kind = (await db('disbursements').where({ id }).first('kind'))?.kind;
  if (kind === 'refund') return approveRefund(db, ctx, id);
  const { items } = await approveDisbursements(db, ctx, [id]);
  return items[0]!;
}

async function approveRefund(db: Knex, ctx: RequestContext, id: string) {
  return inTransaction(db, async (trx) => {
    const d = await trx('disbursements as x')
      .join('departments as dep', 'dep.id', 'x.department_id')
      .where('x.id', id)
      .forUpdate('x')
      .first('x.*', 'dep.code as department_code');
    if (!d) throw new AppError('NOT_FOUND', '没有这笔退回');
    if (d.status === 'approved') throw new AppError('ALREADY_POSTED', '该笔退回已审批记账');
    if (d.status !== 'pending') throw new AppError('CONFLICT', '该笔退回已取消');
    if (String(d.created_by) === ctx.actor!.id) throw new AppError('SAME_ACCOUNTANT', '制单会计不能审批自己登记的退回');
    // Under the fund's lock, so two refunds approved at once cannot together return more than was paid.
    await trx('funds').where({ id: d.fund_id }).forUpdate().first('id');
    await refuseRefundBeyondPaid(trx, String(d.fund_id), String(d.department_id), d.department_code, new Decimal(d.amount));
    const [entry] = await postEntries(trx, String(d.fund_id), { createdBy: String(d.created_by), approvedBy: ctx.actor!.id }, [
      paymentEntry('refund', d.department_code, {
        amount: new Decimal(d.amount),
        voucher_no: d.voucher_no,
        date: d.pay_date,
        memo: d.memo,
        departmentId: String(d.department_id),
      }),
    ]);
    const [row] = await trx('disbursements')
      .where({ id })
      .update({ status: 'approved', approved_by: ctx.actor!.id, approved_at: trx.fn.now(), entry_id: entry!.id })
      .returning('*');
    const after = view(row);
    await recordAudit(trx, ctx, { action: 'refund.approve', objectType: 'disbursement', objectId: id, before: { status: 'pending' }, after });
    return after;
  });
}
