import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { departmentAccountCode } from '../ledger/chart.ts';
import { zero } from '../ledger/money.ts';

/*
 * A unit's figures by kind (db/migrations/010-figures-by-unit.ts): allocated = allocations net of
 * clawbacks and reversals, disbursed = payments net of refunds and reversals, kept by the database.
 * Runs, payments, refunds and positions read these, never the balances of 5001.d or 7101.d: a manual
 * entry corrects balances but cannot make a unit owed, allocated or paid more than it was.
 */

export interface UnitFigures {
  allocated: Decimal;
  disbursed: Decimal;
  /** The 2307.d balance: what the books say is payable; a payment or clawback never goes beyond it. */
  payableBalance: Decimal;
}

export function owedOf(f: UnitFigures): Decimal {
  return Decimal.max(zero, Decimal.min(f.allocated.minus(f.disbursed), f.payableBalance));
}

/** Every unit of a fund (or those named) with figures or a payable balance. */
export async function unitFiguresOf(db: Knex, fundId: string, onlyDepartment?: string | string[]): Promise<Map<string, UnitFigures>> {
  const ids = onlyDepartment === undefined ? undefined : [onlyDepartment].flat();
  // The units named are picked on both sides of the join: a page of positions reads its own units' rows, not the fund's 5,000.
  const only = ids ? 'AND department_id = ANY (?::bigint[])' : '';
  const { rows } = await db.raw(
    `SELECT coalesce(u.department_id, p.department_id) AS department_id,
            coalesce(u.allocated, 0)::text AS allocated, coalesce(u.disbursed, 0)::text AS disbursed, coalesce(p.balance, 0)::text AS payable
       FROM (SELECT department_id, allocated, disbursed FROM fund_unit_figures WHERE fund_id = ? ${only}) u
       FULL JOIN (SELECT department_id, balance FROM accounts WHERE fund_id = ? AND kind = 'payable' ${only}) p ON p.department_id = u.department_id`,
    ids ? [fundId, ids, fundId, ids] : [fundId, fundId],
  );
  return new Map(
    (rows as Array<Record<string, string>>).map((r) => [
      String(r.department_id),
      { allocated: new Decimal(r.allocated!), disbursed: new Decimal(r.disbursed!), payableBalance: new Decimal(r.payable!) },
    ]),
  );
}

export async function unitFigures(db: Knex, fundId: string, departmentId: string, departmentCode: string): Promise<UnitFigures> {
  const u = await db('fund_unit_figures').where({ fund_id: fundId, department_id: departmentId }).first('allocated', 'disbursed');
  const p = await db('accounts')
    .where({ fund_id: fundId, code: departmentAccountCode('2307', departmentCode) })
    .first('balance');
  return { allocated: new Decimal(u?.allocated ?? 0), disbursed: new Decimal(u?.disbursed ?? 0), payableBalance: new Decimal(p?.balance ?? 0) };
}
