import type { Knex } from 'knex';
import { Decimal } from 'decimal.js';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { pageOf } from '../db/pagination.ts';
import { pgArray } from '../db/pg-array.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { departmentAccountCode } from '../ledger/chart.ts';
import type { EntryDraft } from '../ledger/entry-rules.ts';
import { checkEntryDate } from '../ledger/period-rules.ts';
import { postEntries } from '../ledger/post-entries.ts';
import { computeRun, type AllocationLine, type Exclusion } from './allocation-rules.ts';
import { loadRunInputs, runBasisHash, unitsWithoutVerifiedReceipts } from './run-inputs.ts';

/** The first key of the advisory lock that serialises run computations per fund. */
const runCreationLock = 13;

const runStatusWords: Record<string, string> = { approved: '已审批', cancelled: '已取消', superseded: '已被新方案取代' };

/**
 * A run as people read it. A draft whose inputs changed since it was computed reads `stale`
 * (it stays a draft in the database: staleness is a fact about now, not about the run).
 */
function runView(run: Record<string, unknown>, lines: Array<Record<string, unknown>>, stale = false) {
  return {
    id: String(run.id),
    fund_id: String(run.fund_id),
    policy_id: String(run.policy_id),
    as_of: String(run.as_of),
    status: stale && run.status === 'draft' ? 'stale' : String(run.status),
    stale: stale && run.status === 'draft',
    superseded_by: run.superseded_by == null ? null : String(run.superseded_by),
    excluded: (run.excluded ?? []) as Exclusion[],
    created_by_name: run.created_by_name == null ? null : String(run.created_by_name),
    approved_by_name: run.approved_by_name == null ? null : String(run.approved_by_name),
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
      explanation: l.explanation as AllocationLine['explanation'],
      entry_id: l.entry_id == null ? null : String(l.entry_id),
    })),
  };
}

/** Runs with the names of the people who computed and approved them. */
function runsWithNames(db: Knex) {
  return db('allocation_runs as a')
    .leftJoin('users as c', 'c.id', 'a.created_by')
    .leftJoin('users as p', 'p.id', 'a.approved_by')
    .select('a.*', 'c.username as created_by_name', 'p.username as approved_by_name');
}

/** Whether a draft no longer comes out of the fund's current inputs. */
async function isStale(db: Knex, run: Record<string, unknown>): Promise<boolean> {
  if (run.status !== 'draft') return false;
  try {
    return (await runBasisHash(db, String(run.fund_id), String(run.as_of))) !== run.basis_hash;
  } catch (e) {
    if (e instanceof AppError) return true;
    throw e;
  }
}

export async function getRun(db: Knex, id: string) {
  const run = await runsWithNames(db).where('a.id', id).first();
  if (!run) throw new AppError('NOT_FOUND', '没有这个分配批次');
  const lines = await db('allocation_lines as l')
    .join('departments as d', 'd.id', 'l.department_id')
    .where('l.run_id', id)
    .orderBy('d.code')
    .select('l.*', 'd.code as department_code', 'd.name as department_name');
  return withExcludedNames(db, runView(run, lines, await isStale(db, run)));
}

/** Names for the units a run left out, so pages never show bare ids. */
async function withExcludedNames<T extends { excluded: Exclusion[] }>(
  db: Knex,
  run: T,
): Promise<Omit<T, 'excluded'> & { excluded: Array<Exclusion & { department_name: string | null }> }> {
  const ids = run.excluded.map((x) => x.department_id);
  const names = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 5000) {
    for (const d of await db('departments')
      .whereIn('id', ids.slice(i, i + 5000))
      .select('id', 'name'))
      names.set(String(d.id), String(d.name));
  }
  return { ...run, excluded: run.excluded.map((x) => ({ ...x, department_name: names.get(x.department_id) ?? null })) };
}

/** A page of the fund's runs, newest first; `cursor` is the id of the last run of the page before. */
export async function listRuns(db: Knex, fundId: string, page: { limit?: number | undefined; cursor?: string | undefined } = {}) {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  const limit = page.limit ?? 100;
  const runs: Array<Record<string, unknown>> = await runsWithNames(db)
    .where('a.fund_id', fundId)
    .modify((q) => (page.cursor ? q.where('a.id', '<', page.cursor) : q))
    .orderBy('a.id', 'desc')
    .limit(limit + 1);
  const shown = pageOf(runs, limit, (r) => String(r.id));
  // Computing a run supersedes older drafts, so at most the newest run is a draft worth checking.
  const items = [];
  for (const r of shown.items)
    items.push({ ...runView(r, [], await isStale(db, r)), lines: undefined, excluded: undefined, excluded_count: ((r.excluded ?? []) as unknown[]).length });
  return { items, next_cursor: shown.next_cursor };
}

/** Computes a draft run from the current policy and verified receipts; nothing is posted until another accountant approves. */
export async function createRun(db: Knex, ctx: RequestContext, fundId: string, asOf: string = todayInShanghai()) {
  // The run's entries are dated as of its date: it must be a date the fund can still post on.
  const fund = await db('funds').where({ id: fundId }).first('opening_date', 'closed_through');
  if (fund) checkEntryDate(asOf, fund, 'as_of');
  const inputs = await loadRunInputs(db, fundId, asOf);
  const result = computeRun(inputs.departments, inputs.policy, inputs.fundAvailable, asOf);
  const excluded = [...result.excluded, ...(await unitsWithoutVerifiedReceipts(db, fundId, new Set(inputs.departments.map((d) => d.id))))].sort((a, b) =>
    a.department_code < b.department_code ? -1 : a.department_code > b.department_code ? 1 : 0,
  );
  const run = await inTransaction(db, async (trx) => {
    // Computations of one fund take turns, so the last one always supersedes every earlier draft.
    // An advisory lock rather than the fund's row: approval holds a run and then the fund.
    await trx.raw('SELECT pg_advisory_xact_lock(?::int, ?::int)', [runCreationLock, Number(fundId) % 2147483647]);
    const [row] = await trx('allocation_runs')
      .insert({
        fund_id: fundId,
        policy_id: inputs.policy.id,
        as_of: asOf,
        available: result.available,
        total: result.total,
        clawed_back: result.clawed_back,
        factor: result.factor,
        basis_hash: inputs.basisHash,
        created_by: ctx.actor!.id,
        excluded: JSON.stringify(excluded),
      })
      .returning('*');
    // The newest computation is the one to review: older drafts can no longer be approved.
    const superseded = await trx('allocation_runs')
      .where({ fund_id: fundId, status: 'draft' })
      .whereNot('id', row.id)
      .update({ status: 'superseded', superseded_by: row.id })
      .returning('id');
    if (superseded.length) {
      await recordAudit(trx, ctx, {
        action: 'allocation.run_supersede',
        objectType: 'allocation_run',
        objectId: row.id,
        after: { superseded: superseded.map((r) => String(r.id)) },
      });
    }
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
    await recordAudit(trx, ctx, {
      action: 'allocation.run_create',
      objectType: 'allocation_run',
      objectId: row.id,
      after: { fund_id: fundId, as_of: asOf, total: result.total, clawed_back: result.clawed_back, lines: lines.length },
    });
    return row;
  });
  // The draft as computed, not read back: ten thousand explanations are megabytes.
  const creator = await db('users').where({ id: ctx.actor!.id }).first('username');
  return withExcludedNames(
    db,
    runView(
      { ...run, created_by_name: creator?.username ?? null },
      result.lines.map((l) => ({ ...l, department_name: inputs.names.get(l.department_id), entry_id: null })),
    ),
  );
}

export async function cancelRun(db: Knex, ctx: RequestContext, id: string) {
  await inTransaction(db, async (trx) => {
    const run = await trx('allocation_runs').where({ id }).forUpdate().first('id', 'status');
    if (!run) throw new AppError('NOT_FOUND', '没有这个分配批次');
    if (run.status !== 'draft') throw new AppError('CONFLICT', `该批次${runStatusWords[run.status] ?? ''}，不能取消`);
    await trx('allocation_runs').where({ id }).update({ status: 'cancelled', cancelled_by: ctx.actor!.id, cancelled_at: trx.fn.now() });
    await recordAudit(trx, ctx, {
      action: 'allocation.run_cancel',
      objectType: 'allocation_run',
      objectId: id,
      before: { status: 'draft' },
      after: { status: 'cancelled' },
    });
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
    if (run.status === 'approved') throw new AppError('ALREADY_POSTED', `第 ${id} 批已审批记账`);
    if (run.status === 'superseded') throw new AppError('RUN_SUPERSEDED', `第 ${id} 批已被第 ${run.superseded_by} 批取代，请审批最新的方案`);
    if (run.status !== 'draft') throw new AppError('CONFLICT', `该批次${runStatusWords[run.status] ?? ''}，不能审批`);
    if (String(run.created_by) === actor.id) throw new AppError('SAME_ACCOUNTANT', '计算分配方案的会计不能审批该方案');
    await trx('funds').where({ id: run.fund_id }).forUpdate().first('id');
    if ((await runBasisHash(trx, String(run.fund_id), String(run.as_of))) !== run.basis_hash) {
      throw new AppError('RUN_STALE', '计算该方案之后，发票、单位状态、分配政策或资金余额已有变化。');
    }
    const lines = await trx('allocation_lines as l')
      .join('departments as d', 'd.id', 'l.department_id')
      .where('l.run_id', id)
      .orderBy('d.code')
      .select('l.id', 'l.department_id', 'd.code', 'l.amount', 'l.clawback');
    const memo = `以奖代补资金分配 第 ${id} 批`;
    const draft = (l: (typeof lines)[number], kind: 'allocation' | 'clawback', amount: string): EntryDraft => ({
      date: String(run.as_of),
      kind,
      memo: kind === 'allocation' ? memo : `${memo}（收回未拨付奖励）`,
      documentNo: `RUN-${id}`,
      departmentId: String(l.department_id),
      postings:
        kind === 'allocation'
          ? [
              { accountCode: departmentAccountCode('5001', l.code), side: 'debit', amount: new Decimal(amount) },
              { accountCode: departmentAccountCode('2307', l.code), side: 'credit', amount: new Decimal(amount) },
            ]
          : [
              { accountCode: departmentAccountCode('2307', l.code), side: 'debit', amount: new Decimal(amount) },
              { accountCode: departmentAccountCode('5001', l.code), side: 'credit', amount: new Decimal(amount) },
            ],
    });
    const clawbacks = lines.filter((l) => new Decimal(l.clawback).gt(0));
    const allocations = lines.filter((l) => new Decimal(l.amount).gt(0));
    // The ledger's statement triggers keep, per session, the plan of each query over a statement's new
    // rows made at its first use, sized for the rows of that statement: a plan made for an entry of a
    // few postings joined this run's 10,000 in a nested loop (13 s, 50M rows filtered). Forgetting the
    // session's plans makes them plan again, for this batch.
    await trx.raw('DISCARD PLANS');
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
    await recordAudit(trx, ctx, {
      action: 'allocation.run_approve',
      objectType: 'allocation_run',
      objectId: id,
      before: { status: 'draft' },
      after: { status: 'approved', entries: posted.length, total: run.total },
    });
  });
  return getRun(db, id);
}
