import type { Knex } from 'knex';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { AppError, validationError } from '../errors.ts';
import type { Page } from '../db/pagination.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { zero } from '../ledger/money.ts';
import { entitlementOf } from './allocation-rules.ts';
import { currentPolicyRow } from './policy.ts';
import { loadRunInputs } from './run-inputs.ts';
import { owedOf, unitFiguresOf } from './unit-figures.ts';

export interface Position {
  department_id: string;
  department_code: string;
  department_name: string;
  entitlement: string | null;
  allocated: string;
  paid: string;
  payable: string;
  to_recover: string;
}

/**
 * Where each unit stands in a fund: what the current policy entitles it to today, what was allocated
 * and paid by kind (allocations net of clawbacks, payments net of refunds, each net of reversals),
 * what it is still owed (never beyond its 2307.d balance), and what was paid beyond its entitlement.
 * Balances of 5001.d or 7101.d that a manual entry corrected do not move these figures.
 */
export async function fundPositions(db: Knex, fundId: string, onlyDepartment?: string | string[]): Promise<Position[]> {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  return positionsOf(db, fundId, onlyDepartment);
}

async function positionsOf(db: Knex, fundId: string, only?: string | string[]): Promise<Position[]> {
  const asOf = todayInShanghai();
  const wanted = only === undefined ? undefined : new Set([only].flat());
  // Independent reads in parallel on the pool; the units of a page are known before their figures
  // are. Inside a transaction (one connection) one after another: pg refuses queries sent at once.
  const readInputs = () => currentPolicyRow(db, fundId).then((policy) => (policy ? loadRunInputs(db, fundId, asOf, only) : null));
  const readFigures = () => unitFiguresOf(db, fundId, only);
  const readNamed = async () =>
    wanted
      ? db('departments')
          .whereIn('id', [...wanted])
          .select('id', 'code', 'name')
      : undefined;
  const [inputs, figures, named] = db.isTransaction
    ? [await readInputs(), await readFigures(), await readNamed()]
    : await Promise.all([readInputs(), readFigures(), readNamed()]);
  const entitlements = new Map(inputs?.departments.map((d) => [d.id, entitlementOf(d, inputs.policy, asOf).entitlement]) ?? []);
  const ids = new Set([...figures.keys(), ...entitlements.keys()].filter((id) => !wanted || wanted.has(id)));
  const departments = named
    ? named.filter((d) => ids.has(String(d.id)))
    : ids.size
      ? await db('departments')
          .whereIn('id', [...ids])
          .select('id', 'code', 'name')
      : [];
  const none = { allocated: zero, disbursed: zero, payableBalance: zero };
  return departments
    .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
    .map((d) => {
      const entitlement = inputs ? (entitlements.get(String(d.id)) ?? zero) : null;
      const f = figures.get(String(d.id)) ?? none;
      return {
        department_id: String(d.id),
        department_code: d.code,
        department_name: d.name,
        entitlement: entitlement?.toFixed(2) ?? null,
        allocated: f.allocated.toFixed(2),
        paid: f.disbursed.toFixed(2),
        payable: owedOf(f).toFixed(2),
        to_recover: entitlement && f.disbursed.gt(entitlement) ? f.disbursed.minus(entitlement).toFixed(2) : '0.00',
      };
    });
}

/**
 * One page of positions, by unit code; the cursor is the id of the last unit shown. The page's units
 * are found first (those with figures, a payable account or, under a policy, a verified receipt in
 * this fund: the units fundPositions lists), walking the units by code, then only their inputs are read.
 */
export async function fundPositionsPage(db: Knex, fundId: string, limit: number, cursor?: string): Promise<Page<Position>> {
  const [fund, policy] = await Promise.all([db('funds').where({ id: fundId }).first('id'), currentPolicyRow(db, fundId)]);
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  const hasPolicy = Boolean(policy);
  const q = db('departments as d')
    .where((w) => {
      w.whereExists(db('fund_unit_figures as u').where('u.fund_id', fundId).whereRaw('u.department_id = d.id'));
      w.orWhereExists(db('accounts as a').where({ 'a.fund_id': fundId, 'a.kind': 'payable' }).whereRaw('a.department_id = d.id'));
      if (hasPolicy)
        w.orWhereExists(
          db('receipts as r')
            .where({ 'r.fund_id': fundId, 'r.status': 'verified' })
            .where('r.issue_date', '<=', todayInShanghai())
            .whereRaw('r.department_id = d.id'),
        );
    })
    .orderBy('d.code')
    .limit(limit + 1)
    .select('d.id');
  if (cursor) {
    const at = await db('departments').where({ id: cursor }).first('code');
    if (!at) throw validationError('cursor', '不是本列表的游标');
    q.where('d.code', '>', at.code);
  }
  const ids = (await q).map((r) => String(r.id));
  const shown = ids.slice(0, limit);
  const positions = shown.length ? await positionsOf(db, fundId, shown) : [];
  return { items: positions, next_cursor: ids.length > limit ? shown[shown.length - 1]! : null };
}

export async function departmentPosition(db: Knex, actor: Actor, fundId: string, departmentId: string): Promise<Position> {
  assertOwnDepartment(actor, departmentId);
  const department = await db('departments').where({ id: departmentId }).first('id', 'code', 'name');
  if (!department) throw new AppError('NOT_FOUND', '没有这个单位');
  const [position] = await fundPositions(db, fundId, departmentId);
  return (
    position ?? {
      department_id: departmentId,
      department_code: department.code,
      department_name: department.name,
      entitlement: null,
      allocated: '0.00',
      paid: '0.00',
      payable: '0.00',
      to_recover: '0.00',
    }
  );
}
