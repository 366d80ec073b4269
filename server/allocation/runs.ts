import type { Knex } from 'knex';
import { Decimal } from 'decimal.js';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { pgArray } from '../db/pg-array.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { departmentAccountCode } from '../ledger/chart.ts';
import type { EntryDraft } from '../ledger/entry-rules.ts';
import { checkEntryDate } from '../ledger/period-rules.ts';
import { postEntries } from '../ledger/post-entries.ts';
import { computeRun } from './allocation-rules.ts';
import { loadRunInputs } from './run-inputs.ts';

function runView(run: Record<string, unknown>, lines: Array<Record<string, unknown>>) {
  return {
    id: String(run.id),
    fund_id: String(run.fund_id),
    policy_id: String(run.policy_id),
    as_of: String(run.as_of),
    status: String(run.status),
    available: String(run.available),
    total: String(run.total),
    clawed_back: String(run.clawed_back),
    factor: String(run.factor),
    created_by: String(run.created_by),
    created_at: (run.created_at as Date).toISOString(),
    approved_by: run.approved_by == null ? null : String(run.approved_by),
    approved_at: run.approved_at == null ? null : (run.approved_at as Date).toISOString(),
    lines: lines.map((l) => ({
      department_id: String(l.department_id),
      department_code: String(l.department_code),
      department_name: String(l.department_name),
      entitlement: String(l.entitlement),
      previously_allocated: String(l.previously_allocated),
      due: String(l.due),
      amount: String(l.amount),
      clawback: String(l.clawback),
      to_recover: String(l.to_recover),
      explanation: l.explanation,
      entry_id: l.entry_id == null ? null : String(l.entry_id),
    })),
  };
}

export async function getRun(db: Knex, id: string) {
  const run = await db('allocation_runs').where({ id }).first();
  if (!run) throw new AppError('NOT_FOUND', '没有这个分配批次');
  const lines = await db('allocation_lines as l')
    .join('departments as d', 'd.id', 'l.department_id')
    .where('l.run_id', id)
    .orderBy('d.code')
    .select('l.*', 'd.code as department_code', 'd.name as department_name');
  return runView(run, lines);
}

export async function listRuns(db: Knex, fundId: string) {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  const runs = await db('allocation_runs').where({ fund_id: fundId }).orderBy('id', 'desc');
  return { items: runs.map((r) => ({ ...runView(r, []), lines: undefined })) };
}

/** Computes a draft run from the current policy and verified receipts; nothing is posted until another accountant approves. */
export async function createRun(db: Knex, ctx: RequestContext, fundId: string, asOf: string = todayInShanghai()) {
  // The run's entries are dated as of its date: it must be a date the fund can still post on.
  const fund = await db('funds').where({ id: fundId }).first('opening_date', 'closed_through');
  if (fund) checkEntryDate(asOf, fund, 'as_of');
  const inputs = await loadRunInputs(db, fundId, asOf);
  const result = computeRun(inputs.departments, inputs.policy, inputs.fundAvailable, asOf);
  const run = await inTransaction(db, async (trx) => {
    const [row] = await trx('allocation_runs')
      .insert({
        fund_id: fundId, policy_id: inputs.policy.id, as_of: asOf, available: result.available, total: result.total,
        clawed_back: result.clawed_back, factor: result.factor, basis_hash: inputs.basisHash, created_by: ctx.actor!.id,
      })
      .returning('*');
    const lines = result.lines;
    if (lines.length) {
      // One JSON document rather than a jsonb[] literal: thousands of explanations parse far faster.
      await trx.raw(
        `INSERT INTO allocation_lines (run_id, department_id, entitlement, previously_allocated, due, amount, clawback, to_recover, explanation)
         SELECT ?, x.department_id, x.entitlement, x.previously_allocated, x.due, x.amount, x.clawback, x.to_recover, x.explanation
           FROM jsonb_to_recordset(?::jsonb) AS x(department_id bigint, entitlement numeric, previously_allocated numeric, due numeric,
                                                  amount numeric, clawback numeric, to_recover numeric, explanation jsonb)`,
        [row.id, JSON.stringify(lines)],
      );
    }
    await recordAudit(trx, ctx, { action: 'allocation.run_create', objectType: 'allocation_run', objectId: row.id, after: { fund_id: fundId, as_of: asOf, total: result.total, clawed_back: result.clawed_back, lines: lines.length } });
    return row;
  });
  // The draft as computed, not read back: ten thousand explanations are megabytes.
  return runView(run, result.lines.map((l) => ({ ...l, department_name: inputs.names.get(l.department_id), entry_id: null })));
}

export async function cancelRun(db: Knex, ctx: RequestContext, id: string) {
  await inTransaction(db, async (trx) => {
    const run = await trx('allocation_runs').where({ id }).forUpdate().first('id', 'status');
    if (!run) throw new AppError('NOT_FOUND', '没有这个分配批次');
    if (run.status !== 'draft') throw new AppError('CONFLICT', `该批次已${run.status === 'approved' ? '审批' : '取消'}，不能取消`);
    await trx('allocation_runs').where({ id }).update({ status: 'cancelled', cancelled_by: ctx.actor!.id, cancelled_at: trx.fn.now() });
    await recordAudit(trx, ctx, { action: 'allocation.run_cancel', objectType: 'allocation_run', objectId: id, before: { status: 'draft' }, after: { status: 'cancelled' } });
  });
  return getRun(db, id);
}

/**
 * A second accountant approves a draft: the run is recomputed under the fund's lock and must come
 * out from the same inputs, else 409 RUN_STALE. Clawbacks post before allocations, all in one transaction.
 */
export async function approveRun(db: Knex, ctx: RequestContext, id: string) {
  const actor = ctx.actor!;
  await inTransaction(db, async (trx) => {
    const run = await trx('allocation_runs').where({ id }).forUpdate().first();
    if (!run) throw new AppError('NOT_FOUND', '没有这个分配批次');
    if (run.status === 'approved') throw new AppError('ALREADY_POSTED', '该批次已审批记账');
    if (run.status !== 'draft') throw new AppError('CONFLICT', '该批次已取消');
    if (String(run.created_by) === actor.id) throw new AppError('SAME_ACCOUNTANT', '计算分配方案的会计不能审批该方案');
    await trx('funds').where({ id: run.fund_id }).forUpdate().first('id');
    const inputs = await loadRunInputs(trx, String(run.fund_id), String(run.as_of));
    if (inputs.basisHash !== run.basis_hash) {
      throw new AppError('RUN_STALE', '方案计算后发票、单位状态、政策或资金已有变化，请重新计算');
    }
    const lines = await trx('allocation_lines as l').join('departments as d', 'd.id', 'l.department_id').where('l.run_id', id).orderBy('d.code').select('l.id', 'l.department_id', 'd.code', 'l.amount', 'l.clawback');
    const memo = `以奖代补资金分配 第 ${id} 批`;
    const draft = (l: (typeof lines)[number], kind: 'allocation' | 'clawback', amount: string): EntryDraft => ({
      date: String(run.as_of),
      kind,
      memo: kind === 'allocation' ? memo : `${memo}（收回未拨付奖励）`,
      documentNo: `RUN-${id}`,
      departmentId: String(l.department_id),
      postings:
        kind === 'allocation'
          ? [{ accountCode: departmentAccountCode('5001', l.code), side: 'debit', amount: new Decimal(amount) }, { accountCode: departmentAccountCode('2307', l.code), side: 'credit', amount: new Decimal(amount) }]
          : [{ accountCode: departmentAccountCode('2307', l.code), side: 'debit', amount: new Decimal(amount) }, { accountCode: departmentAccountCode('5001', l.code), side: 'credit', amount: new Decimal(amount) }],
    });
    const clawbacks = lines.filter((l) => new Decimal(l.clawback).gt(0));
    const allocations = lines.filter((l) => new Decimal(l.amount).gt(0));
    // The entries' two people are the run's: who computed it (制单) and who approves it (审核).
    const posted = await postEntries(trx, String(run.fund_id), { createdBy: String(run.created_by), approvedBy: actor.id }, [
      ...clawbacks.map((l) => draft(l, 'clawback', l.clawback)),
      ...allocations.map((l) => draft(l, 'allocation', l.amount)),
    ]);
    const lineIds = [...clawbacks, ...allocations].map((l) => String(l.id));
    if (lineIds.length) {
      await trx.raw(
        `UPDATE allocation_lines l SET entry_id = u.entry_id FROM unnest(?::bigint[], ?::bigint[]) AS u(line_id, entry_id) WHERE l.id = u.line_id`,
        [pgArray(lineIds), pgArray(posted.map((e) => e.id))],
      );
    }
    await trx('allocation_runs').where({ id }).update({ status: 'approved', approved_by: actor.id, approved_at: trx.fn.now() });
    await recordAudit(trx, ctx, { action: 'allocation.run_approve', objectType: 'allocation_run', objectId: id, before: { status: 'draft' }, after: { status: 'approved', entries: posted.length, total: run.total } });
  });
  return getRun(db, id);
}
