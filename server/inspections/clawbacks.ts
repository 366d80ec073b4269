import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { idParam, money, todayInShanghai } from '../http/schemas.ts';
import { departmentAccountCode } from '../ledger/chart.ts';
import type { EntryDraft } from '../ledger/entry-rules.ts';
import { formatAmount } from '../ledger/money.ts';
import { postEntries } from '../ledger/post-entries.ts';
import { owedOf, unitFigures } from '../allocation/unit-figures.ts';

export const clawbackBody = z.strictObject({ fund_id: idParam, amount: money });

function view(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    finding_id: String(r.finding_id),
    fund_id: String(r.fund_id),
    department_id: String(r.department_id),
    amount: String(r.amount),
    status: String(r.status),
    created_by: String(r.created_by),
    created_at: (r.created_at as Date).toISOString(),
    approved_by: r.approved_by == null ? null : String(r.approved_by),
    approved_at: r.approved_at == null ? null : (r.approved_at as Date).toISOString(),
    entry_id: r.entry_id == null ? null : String(r.entry_id),
  };
}

/**
 * What the unit is still owed by kind (allocated − disbursed, never beyond 2307.d; unit-figures.ts)
 * less what is already spoken for: pending payments and other pending clawbacks. A clawback takes
 * back unpaid reward only; paid money comes back as a refund.
 */
async function unreservedPayable(trx: Knex, fundId: string, departmentId: string, departmentCode: string, exceptClawback?: string) {
  const payments = await trx('disbursements')
    .where({ fund_id: fundId, department_id: departmentId, status: 'pending', kind: 'payment' })
    .sum({ s: 'amount' })
    .first();
  const clawbacks = await trx('finding_clawbacks')
    .where({ fund_id: fundId, department_id: departmentId, status: 'pending' })
    .modify((q) => (exceptClawback ? q.whereNot('id', exceptClawback) : q))
    .sum({ s: 'amount' })
    .first();
  const payable = owedOf(await unitFigures(trx, fundId, departmentId, departmentCode));
  return { payable, free: payable.minus(payments?.s ?? 0).minus(clawbacks?.s ?? 0) };
}

/** An accountant prepares a clawback from a finding; it moves nothing until another accountant approves it. */
export async function prepareClawback(db: Knex, ctx: RequestContext, findingId: string, input: z.output<typeof clawbackBody>) {
  if (input.amount.lte(0)) throw validationError('amount', '金额须大于 0');
  return inTransaction(db, async (trx) => {
    const finding = await trx('findings as f')
      .join('departments as d', 'd.id', 'f.department_id')
      .where('f.id', findingId)
      .first('f.id', 'f.department_id', 'd.code');
    if (!finding) throw new AppError('NOT_FOUND', '没有这项督查发现');
    // The fund's row is the lock every posting to it takes: reservations are checked one at a time.
    if (!(await trx('funds').where({ id: input.fund_id }).forUpdate().first('id'))) throw validationError('fund_id', '没有这项资金');
    const { payable, free } = await unreservedPayable(trx, input.fund_id, String(finding.department_id), finding.code);
    if (input.amount.gt(free)) {
      throw new AppError(
        'EXCEEDS_PAYABLE',
        `该单位应付未付 ${payable.toFixed(2)} 元，扣除待审批的拨付和收回后可收回 ${Decimal.max(free, 0).toFixed(2)} 元，${formatAmount(input.amount)} 元超出`,
      );
    }
    const [row] = await trx('finding_clawbacks')
      .insert({
        finding_id: findingId,
        fund_id: input.fund_id,
        department_id: finding.department_id,
        amount: formatAmount(input.amount),
        created_by: ctx.actor!.id,
      })
      .returning('*');
    const c = view(row);
    await recordAudit(trx, ctx, { action: 'clawback.prepare', objectType: 'finding_clawback', objectId: c.id, after: c });
    return c;
  });
}

/** Dr 2307.d / Cr 5001.d: the unpaid reward is no longer owed, and the expense is undone. */
function clawbackEntry(code: string, departmentId: string, amount: Decimal, date: string, documentNo: string): EntryDraft {
  return {
    date,
    kind: 'clawback',
    memo: `督查发现问题，收回未拨付奖励（${documentNo}）`,
    documentNo,
    departmentId,
    postings: [
      { accountCode: departmentAccountCode('2307', code), side: 'debit', amount },
      { accountCode: departmentAccountCode('5001', code), side: 'credit', amount },
    ],
  };
}

/** A second accountant approves: the entry is posted through the one posting function, dated today unless the approver says otherwise. */
export async function approveClawback(db: Knex, ctx: RequestContext, id: string, date?: string) {
  const entryDate = date ?? todayInShanghai();
  if (entryDate > todayInShanghai()) throw validationError('date', '记账日期不能晚于今天');
  return inTransaction(db, async (trx) => {
    const c = await trx('finding_clawbacks as c')
      .join('findings as f', 'f.id', 'c.finding_id')
      .join('inspections as i', 'i.id', 'f.inspection_id')
      .join('departments as d', 'd.id', 'c.department_id')
      .where('c.id', id)
      .forUpdate('c')
      .first('c.*', 'i.document_no', 'd.code');
    if (!c) throw new AppError('NOT_FOUND', '没有这笔收回');
    if (c.status !== 'pending') throw new AppError('CONFLICT', `该笔收回已${c.status === 'approved' ? '记账' : '取消'}`);
    if (String(c.created_by) === ctx.actor!.id) throw new AppError('SAME_ACCOUNTANT', '制单会计不能审批自己提出的收回');
    await trx('funds').where({ id: c.fund_id }).forUpdate().first('id');
    const { payable, free } = await unreservedPayable(trx, String(c.fund_id), String(c.department_id), c.code, id);
    // Pending payments prepared since still wait for approval; this clawback must not leave them unpayable.
    if (new Decimal(c.amount).gt(free)) {
      throw new AppError('EXCEEDS_PAYABLE', `该单位应付未付 ${payable.toFixed(2)} 元，扣除待审批的拨付后不足收回 ${String(c.amount)} 元`);
    }
    // The entry's two people are the clawback's: who prepared it (制单) and who approves it (审核).
    const [entry] = await postEntries(trx, String(c.fund_id), { createdBy: String(c.created_by), approvedBy: ctx.actor!.id }, [
      clawbackEntry(c.code, String(c.department_id), new Decimal(c.amount), entryDate, c.document_no),
    ]);
    const [row] = await trx('finding_clawbacks')
      .where({ id })
      .update({ status: 'approved', approved_by: ctx.actor!.id, approved_at: trx.fn.now(), entry_id: entry!.id })
      .returning('*');
    const after = { ...view(row), entry };
    await recordAudit(trx, ctx, { action: 'clawback.approve', objectType: 'finding_clawback', objectId: id, before: { status: 'pending' }, after: view(row) });
    return after;
  });
}

export async function cancelClawback(db: Knex, ctx: RequestContext, id: string) {
  return inTransaction(db, async (trx) => {
    const c = await trx('finding_clawbacks').where({ id }).forUpdate().first('status');
    if (!c) throw new AppError('NOT_FOUND', '没有这笔收回');
    if (c.status !== 'pending') throw new AppError('CONFLICT', `该笔收回已${c.status === 'approved' ? '记账' : '取消'}，不能取消`);
    const [row] = await trx('finding_clawbacks')
      .where({ id })
      .update({ status: 'cancelled', cancelled_by: ctx.actor!.id, cancelled_at: trx.fn.now() })
      .returning('*');
    await recordAudit(trx, ctx, {
      action: 'clawback.cancel',
      objectType: 'finding_clawback',
      objectId: id,
      before: { status: 'pending' },
      after: { status: 'cancelled' },
    });
    return view(row);
  });
}

export async function listClawbacks(db: Knex, f: { fund_id?: string | undefined; status?: string | undefined }) {
  const q = db('finding_clawbacks as c')
    .join('findings as f', 'f.id', 'c.finding_id')
    .join('inspections as i', 'i.id', 'f.inspection_id')
    .join('departments as d', 'd.id', 'c.department_id')
    .orderBy('c.id', 'desc')
    .limit(500)
    .select('c.*', 'i.document_no', 'd.code as department_code', 'd.name as department_name');
  if (f.fund_id) q.where('c.fund_id', f.fund_id);
  if (f.status) q.where('c.status', f.status);
  return { items: (await q).map((r) => ({ ...view(r), document_no: r.document_no, department_code: r.department_code, department_name: r.department_name })) };
}
