import type { Knex } from 'knex';
import { likeLiteral } from '../departments/departments.ts';
import { validationError } from '../errors.ts';
import { departmentAccounts } from './chart.ts';

export interface JournalFilterWords {
  account?: string | undefined;
  /** A unit by its code or (part of) its name. */
  department?: string | undefined;
  department_id?: string | undefined;
}

/**
 * `code` and, for 2307, 5001 and 7101, every unit sub-account `code.*` of the fund's accounts. The
 * range [2307, 2308) holds every 2307.* code in any collation (four digits always weigh first), so
 * the (fund_id, code) index serves it; the LIKE that no index of the default collation serves only
 * re-checks the rows of that range.
 */
export function whereAccountOrSubAccounts(q: Knex.QueryBuilder, code: string): Knex.QueryBuilder {
  if (!Object.hasOwn(departmentAccounts, code)) return q.where('code', code);
  const next = String(Number(code) + 1).padStart(4, '0');
  return q
    .where('code', '>=', code)
    .where('code', '<', next)
    .where((w) => w.where('code', code).orWhere('code', 'like', `${code}.%`));
}

/**
 * What a person typed into the journal's filter, resolved against the fund: a parent account (2307)
 * means every 2307.* account, a unit is found by code or name. Nothing is ignored silently: a unit
 * that matches nothing is a 422, and the result says in words what it filtered.
 */
export async function resolveJournalFilter(db: Knex, fundId: string, f: JournalFilterWords) {
  const said: string[] = [];
  let departmentIds: string[] | undefined;
  let accountIds: string[] | undefined;
  if (f.account) {
    // Only 2307, 5001 and 7101 have sub-accounts (one per unit); any other code is one account.
    const parent = Object.hasOwn(departmentAccounts, f.account);
    const accounts: Array<{ id: string; code: string }> = await whereAccountOrSubAccounts(db('accounts').where('fund_id', fundId), f.account).select(
      'id',
      'code',
    );
    const n = accounts.length;
    if (n === 0) throw validationError('account', `本资金没有科目 ${f.account}${parent ? '，也没有它的明细科目' : ''}`);
    accountIds = accounts.map((a) => String(a.id));
    const own = accounts.some((a) => a.code === f.account);
    said.push(parent && n > 1 ? `科目 ${f.account} 及其 ${n - (own ? 1 : 0)} 个明细科目` : `科目 ${f.account}`);
  }
  const text = f.department?.trim();
  if (text || f.department_id) {
    const q = db('departments').orderBy('code').limit(51).select('id', 'code', 'name');
    if (f.department_id) q.where('id', f.department_id);
    else {
      const exact = await db('departments').whereRaw('lower(code) = ?', [text!.toLowerCase()]).first('id', 'code', 'name');
      if (exact) q.where('id', exact.id);
      else q.whereRaw('lower(name) LIKE ?', [`%${likeLiteral(text!.toLowerCase())}%`]);
    }
    const units = await q;
    if (units.length === 0) throw validationError('department', `没有代码或名称为“${text ?? f.department_id}”的单位`);
    if (units.length > 50) throw validationError('department', `名称含“${text}”的单位超过 50 个，请输入更完整的名称或单位代码`);
    departmentIds = units.map((u) => String(u.id));
    const named = units
      .slice(0, 3)
      .map((u) => `${u.name}（${u.code}）`)
      .join('、');
    said.push(units.length > 3 ? `单位 ${named} 等 ${units.length} 个` : `单位 ${named}`);
  }
  return {
    account: f.account,
    accountIsParent: f.account !== undefined && Object.hasOwn(departmentAccounts, f.account),
    /** The fund's accounts the filter names (the account, or a parent and its sub-accounts). */
    accountIds,
    departmentIds,
    description: said.length ? `仅显示${said.join('、')}的凭证` : '全部凭证',
  };
}
