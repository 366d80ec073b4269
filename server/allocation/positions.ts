import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { AppError } from '../errors.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { zero } from '../ledger/money.ts';
import { entitlementOf } from './allocation-rules.ts';
import { currentPolicyRow } from './policy.ts';
import { loadRunInputs } from './run-inputs.ts';

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
 * (5001.d), paid (7101.d) and is still payable (2307.d), and what was paid beyond its entitlement.
 */
export async function fundPositions(db: Knex, fundId: string, onlyDepartment?: string): Promise<Position[]> {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  const asOf = todayInShanghai();
  const inputs = (await currentPolicyRow(db, fundId)) ? await loadRunInputs(db, fundId, asOf, onlyDepartment) : null;
  const entitlements = new Map(inputs?.departments.map((d) => [d.id, entitlementOf(d, inputs.policy, asOf).entitlement]) ?? []);
  const q = db('accounts as a')
    .join('departments as d', 'd.id', 'a.department_id')
    .where('a.fund_id', fundId)
    .groupBy('d.id', 'd.code', 'd.name')
    .orderBy('d.code')
    .select(
      'd.id', 'd.code', 'd.name',
      db.raw("coalesce(sum(a.balance) FILTER (WHERE a.kind = 'expense'), 0) AS allocated"),
      db.raw("coalesce(sum(a.balance) FILTER (WHERE a.kind = 'budget_expenditure'), 0) AS paid"),
      db.raw("coalesce(sum(a.balance) FILTER (WHERE a.kind = 'payable'), 0) AS payable"),
    );
  if (onlyDepartment) q.where('d.id', onlyDepartment);
  const rows = await q;
  const seen = new Set(rows.map((r) => String(r.id)));
  // Units entitled to something but never posted to yet still have a position.
  const unposted = [...entitlements.keys()].filter((id) => !seen.has(id) && (!onlyDepartment || id === onlyDepartment));
  const extra = unposted.length ? await db('departments').whereIn('id', unposted).select('id', 'code', 'name') : [];
  return [...rows, ...extra.map((d) => ({ ...d, allocated: '0.00', paid: '0.00', payable: '0.00' }))]
    .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))
    .map((r) => {
      const entitlement = inputs ? (entitlements.get(String(r.id)) ?? zero) : null;
      const paid = new Decimal(r.paid);
      return {
        department_id: String(r.id),
        department_code: r.code,
        department_name: r.name,
        entitlement: entitlement?.toFixed(2) ?? null,
        allocated: new Decimal(r.allocated).toFixed(2),
        paid: paid.toFixed(2),
        payable: new Decimal(r.payable).toFixed(2),
        to_recover: entitlement && paid.gt(entitlement) ? paid.minus(entitlement).toFixed(2) : '0.00',
      };
    });
}

export async function departmentPosition(db: Knex, actor: Actor, fundId: string, departmentId: string): Promise<Position> {
  assertOwnDepartment(actor, departmentId);
  const department = await db('departments').where({ id: departmentId }).first('id', 'code', 'name');
  if (!department) throw new AppError('NOT_FOUND', '没有这个单位');
  const [position] = await fundPositions(db, fundId, departmentId);
  return position ?? { department_id: departmentId, department_code: department.code, department_name: department.name, entitlement: null, allocated: '0.00', paid: '0.00', payable: '0.00', to_recover: '0.00' };
}
