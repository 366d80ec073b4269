import { createHash } from 'node:crypto';
import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
import type { Category } from '../receipts/receipt-rules.ts';
import { pgArray } from '../db/pg-array.ts';
import { categoryList, type CategoryTotal, type DepartmentInput, type Policy } from './allocation-rules.ts';
import { currentPolicyRow, policyOf } from './policy.ts';
import { owedOf, unitFiguresOf } from './unit-figures.ts';

export interface RunInputs {
  policy: Policy;
  departments: DepartmentInput[];
  fundAvailable: Decimal;
  /** Department names, for showing a run; not part of the rule. */
  names: Map<string, string>;
  /** A fingerprint of everything the run depends on: a run whose inputs changed is stale. */
  basisHash: string;
}

/**
 * Everything a run for `fundId` as of `asOf` depends on: the current policy, each unit's verified
 * receipt lines (issued on or before `asOf`), status and acceptance, what was allocated to it and
 * what is still unpaid, and what the fund can still allocate. With `onlyDepartment`, that unit's
 * inputs alone (for its position or statement), or those of several (a page of positions); such
 * inputs are never a run's.
 */
export async function loadRunInputs(db: Knex, fundId: string, asOf: string, onlyDepartment?: string | string[]): Promise<RunInputs> {
  return loadInputs(db, fundId, asOf, onlyDepartment, true);
}

/**
 * The fingerprint of a run's inputs alone (RunInputs.basisHash), for an approval's recheck: the same
 * receipts, statuses and figures, without summing the receipts' lines (receipts and their lines never
 * change once submitted, so the receipts stand for their lines).
 */
export async function runBasisHash(db: Knex, fundId: string, asOf: string): Promise<string> {
  return (await loadInputs(db, fundId, asOf, undefined, false)).basisHash;
}

async function loadInputs(db: Knex, fundId: string, asOf: string, onlyDepartment: string | string[] | undefined, withLines: boolean): Promise<RunInputs> {
  const only = onlyDepartment === undefined ? undefined : [onlyDepartment].flat();
  const fund = await db('funds').where({ id: fundId }).first('id', 'appropriated', 'allocated', 'closed_through');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  const policyRow = await currentPolicyRow(db, fundId);
  if (!policyRow) throw new AppError('NO_POLICY', '请先制定本资金的分配政策（PUT /api/v1/funds/:id/policy）');
  const policy = policyOf(policyRow);
  const verified = (q: Knex.QueryBuilder) =>
    q
      .where({ 'r.fund_id': fundId, 'r.status': 'verified' })
      .where('r.issue_date', '<=', asOf)
      .modify((q) => (only ? q.whereIn('r.department_id', only) : q));
  // Each unit's verified receipts, one row a unit. Every receipt has lines (its total is positive and
  // equals them, checked at commit; lines are never deleted), so these are the receipts of its lines.
  // In text order: the order of the fingerprint since runs began.
  const receiptRows = await db('receipts as r')
    .modify(verified)
    .groupBy('r.department_id')
    .select('r.department_id', db.raw("string_agg(r.id::text, ',' ORDER BY r.id::text) AS receipts"));
  // The lines summed in the database by unit and category under the policy, a few rows a unit
  // however many lines: each line's reward min(amount × rate, licences × cap) in exact numeric, then
  // summed; a category without a cap is rewarded by its rate alone (least() passes over a NULL cap).
  const totalRows = withLines
    ? await db('receipt_lines as l')
        .join('receipts as r', 'r.id', 'l.receipt_id')
        .joinRaw('JOIN unnest(?::text[], ?::numeric[], ?::numeric[]) AS p(category, rate, cap) ON p.category = l.category', [
          pgArray(categoryList),
          pgArray(categoryList.map((c) => policy.rates[c].toFixed(4))),
          pgArray(categoryList.map((c) => policy.caps[c]?.toFixed(2) ?? null)),
        ])
        .modify(verified)
        .groupBy('r.department_id', 'l.category')
        .select(
          'r.department_id',
          'l.category',
          db.raw('min(l.id) AS first_line'),
          db.raw('sum(l.amount)::text AS base'),
          db.raw('sum(l.licences)::text AS licences'),
          db.raw('sum(least(l.amount * p.rate, l.licences * p.cap))::text AS reward'),
          db.raw('count(*) FILTER (WHERE l.licences * p.cap < l.amount * p.rate)::int AS capped_lines'),
        )
    : [];
  // Figures by kind, never the balances of 5001.d or 7101.d: a manual entry cannot hide an allocation
  // from the next run, make one claw back what was never allocated, or change what counts as paid.
  const figures = await unitFiguresOf(db, fundId, onlyDepartment);
  interface Gathered {
    totals: Array<CategoryTotal & { firstLine: bigint }>;
    receipts: string;
    allocated: Decimal;
    payable: Decimal;
    paid: Decimal;
  }
  const byDepartment = new Map<string, Gathered>();
  const entry = (id: string) => {
    let e = byDepartment.get(id);
    if (!e) byDepartment.set(id, (e = { totals: [], receipts: '', allocated: new Decimal(0), payable: new Decimal(0), paid: new Decimal(0) }));
    return e;
  };
  for (const r of receiptRows) entry(String(r.department_id)).receipts = String(r.receipts);
  for (const t of totalRows) {
    entry(String(t.department_id)).totals.push({
      category: t.category as Category,
      base: new Decimal(t.base),
      licences: Number(t.licences),
      reward: new Decimal(t.reward),
      cappedLines: Number(t.capped_lines),
      firstLine: BigInt(t.first_line),
    });
  }
  for (const [id, f] of figures) {
    if (f.allocated.isZero() && f.disbursed.isZero() && !byDepartment.has(id)) continue;
    const e = entry(id);
    e.allocated = f.allocated;
    e.payable = owedOf(f);
    e.paid = f.disbursed;
  }
  // Receipts rejected after verification explain a falling entitlement (a clawback line).
  const rejected = new Map<string, Array<{ id: string; invoice: string; reason: string | null }>>();
  const rejectedRows = await db('receipts as r')
    .where({ 'r.fund_id': fundId, 'r.status': 'rejected' })
    .whereExists((q) => q.from('receipt_events as e').whereRaw('e.receipt_id = r.id').where({ 'e.from_status': 'verified', 'e.to_status': 'rejected' }))
    .modify((q) => (only ? q.whereIn('r.department_id', only) : q))
    .orderBy('r.id')
    .select('r.id', 'r.department_id', 'r.invoice_key', 'r.status_reason');
  for (const r of rejectedRows) {
    const list = rejected.get(String(r.department_id)) ?? [];
    list.push({ id: String(r.id), invoice: String(r.invoice_key).replace(/^digital:/, ''), reason: r.status_reason ?? null });
    rejected.set(String(r.department_id), list);
  }
  // A clawback ordered by an inspection's finding is forfeited, not merely unallocated: counting it
  // as allocated keeps the next run from paying it straight back.
  const forfeited = await db('finding_clawbacks')
    .where({ fund_id: fundId, status: 'approved' })
    .modify((q) => (only ? q.whereIn('department_id', only) : q))
    .groupBy('department_id')
    .select('department_id', db.raw('sum(amount)::text AS amount'));
  for (const f of forfeited) {
    const e = byDepartment.get(String(f.department_id));
    if (e) e.allocated = e.allocated.plus(f.amount);
  }
  const ids = [...byDepartment.keys()];
  const departments: DepartmentInput[] = [];
  const names = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 5000) {
    const rows = await db('departments')
      .whereIn('id', ids.slice(i, i + 5000))
      .select('id', 'code', 'name', 'status', 'accepted_on');
    for (const d of rows) {
      names.set(String(d.id), d.name);
      const e = byDepartment.get(String(d.id))!;
      departments.push({
        id: String(d.id),
        code: d.code,
        status: d.status,
        acceptedOn: d.accepted_on,
        lines: [],
        // In the order each category first appears among the unit's lines, as the explanation lists them.
        totals: e.totals.sort((a, b) => (a.firstLine < b.firstLine ? -1 : 1)).map(({ firstLine: _, ...t }) => t),
        allocated: e.allocated,
        payable: e.payable,
        receipts: e.receipts ? e.receipts.split(',').sort((a, b) => Number(a) - Number(b)) : [],
        paid: e.paid,
        rejected: rejected.get(String(d.id)) ?? [],
      });
    }
  }
  departments.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const fundAvailable = new Decimal(fund.appropriated).minus(fund.allocated);
  // A draft dated inside a period closed since it was computed is no longer current (stale).
  const inClosedPeriod = fund.closed_through !== null && asOf <= String(fund.closed_through);
  const hash = createHash('sha256').update(JSON.stringify([policyRow.id, asOf, fundAvailable.toFixed(2), inClosedPeriod]));
  for (const d of departments) {
    const e = byDepartment.get(d.id)!;
    hash.update(JSON.stringify([d.id, d.status, d.acceptedOn, d.allocated.toFixed(2), d.payable.toFixed(2), e.receipts]));
  }
  return { policy, departments, fundAvailable, names, basisHash: hash.digest('hex') };
}

/**
 * Units a run leaves out for want of verified receipts: active units that completed or that claimed
 * something in this fund, and that are not among the run's inputs (which hold every unit with a
 * verified receipt or a balance). Set-based, so it stays linear in the number of units whatever the
 * planner's statistics say.
 */
export async function unitsWithoutVerifiedReceipts(
  db: Knex,
  fundId: string,
  inRun: ReadonlySet<string>,
): Promise<Array<{ department_id: string; department_code: string; reason: 'no_verified_receipts' }>> {
  const rows = await db('departments as d')
    .where('d.active', true)
    .where((q) =>
      q
        .where('d.status', 'completed')
        .orWhereIn('d.id', db('receipts').where('fund_id', fundId).whereIn('status', ['submitted', 'verified', 'rejected']).select('department_id')),
    )
    .orderBy('d.code')
    .select('d.id', 'd.code');
  return rows
    .filter((d) => !inRun.has(String(d.id)))
    .map((d) => ({ department_id: String(d.id), department_code: String(d.code), reason: 'no_verified_receipts' as const }));
}
