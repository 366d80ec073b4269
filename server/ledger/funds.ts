import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { fundAccounts } from './chart.ts';
import { formatAmount } from './money.ts';
import { pageOf } from '../db/pagination.ts';

export interface NewFund {
  code: string;
  name: string;
  fiscal_year: number;
  document_no: string;
  /** The first day entries may be dated; 1 January of the fiscal year unless given. */
  opening_date?: string | undefined;
}

export function fundView(row: Record<string, unknown>, cashBalance: string) {
  const appropriated = new Decimal(row.appropriated as string);
  const allocated = new Decimal(row.allocated as string);
  return {
    id: String(row.id),
    code: String(row.code),
    name: String(row.name),
    fiscal_year: Number(row.fiscal_year),
    document_no: String(row.document_no),
    opening_date: String(row.opening_date),
    closed_through: row.closed_through == null ? null : String(row.closed_through),
    currency: String(row.currency),
    appropriated: formatAmount(appropriated),
    allocated: formatAmount(allocated),
    disbursed: formatAmount(new Decimal(row.disbursed as string)),
    available_to_allocate: formatAmount(appropriated.minus(allocated)),
    cash_balance: cashBalance,
    entries: Number(row.head_seq),
    head_hash: String(row.head_hash),
    created_at: (row.created_at as Date).toISOString(),
  };
}

/**
 * The opening date (启用日) a person gives: a real day (the one date rule, at the edge), not after
 * today in China — no entry can be dated after today, so a later opening date only hides the fund's
 * books — and in or before the fund's fiscal year (a fund may take over books opened earlier; it
 * cannot open after the year it is for). The database holds the second rule too.
 */
export function checkOpeningDate(openingDate: string, fiscalYear: number): void {
  if (openingDate > todayInShanghai()) throw validationError('opening_date', `启用日不能晚于今天（${todayInShanghai()}）`);
  if (Number(openingDate.slice(0, 4)) > fiscalYear) throw validationError('opening_date', `启用日须在 ${fiscalYear} 年度内或之前`);
}

/** Creates the fund and its chart of accounts in one transaction. */
export async function createFund(db: Knex, ctx: RequestContext, input: NewFund) {
  if (input.opening_date !== undefined) checkOpeningDate(input.opening_date, input.fiscal_year);
  return inTransaction(db, async (trx) => {
    const [row] = await trx('funds')
      .insert({ ...input, opening_date: input.opening_date ?? `${input.fiscal_year}-01-01`, created_by: ctx.actor!.id })
      .returning('*');
    await trx('accounts').insert(
      fundAccounts.map((a) => ({ fund_id: row.id, code: a.code, name: a.name, book: a.book, normal_side: a.normalSide, kind: a.kind, guarded: a.guarded })),
    );
    const fund = fundView(row, '0.00');
    await recordAudit(trx, ctx, { action: 'fund.create', objectType: 'fund', objectId: fund.id, after: fund });
    return fund;
  });
}

/** O(1): the fund row carries its running totals, the cash account its balance. */
export async function getFund(db: Knex, id: string) {
  const row = await db('funds as f')
    .join('accounts as a', function () {
      this.on('a.fund_id', 'f.id').andOnVal('a.code', '1011');
    })
    .where('f.id', id)
    .first('f.*', 'a.balance as cash_balance');
  if (!row) throw new AppError('NOT_FOUND', '没有这项资金');
  return fundView(row, row.cash_balance);
}

export async function listFunds(db: Knex, limit: number, cursor?: string, search?: string) {
  const q = db('funds as f')
    .join('accounts as a', function () {
      this.on('a.fund_id', 'f.id').andOnVal('a.code', '1011');
    })
    .orderBy('f.id', 'desc')
    .limit(limit + 1)
    .select('f.*', 'a.balance as cash_balance');
  if (cursor) q.where('f.id', '<', cursor);
  const text = search?.trim().toLowerCase();
  // Code from its start, name anywhere; % and _ typed by a person are taken literally.
  if (text) {
    const like = text.replace(/[\\%_]/g, (c) => `\\${c}`);
    q.where((w) => w.whereRaw('lower(f.code) LIKE ?', [`${like}%`]).orWhereRaw('lower(f.name) LIKE ?', [`%${like}%`]));
  }
  return pageOf(
    (await q).map((r) => fundView(r, r.cash_balance)),
    limit,
    (f) => f.id,
  );
}

export function accountView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    code: String(r.code),
    name: String(r.name),
    book: String(r.book),
    normal_side: String(r.normal_side),
    balance: String(r.balance),
    department_id: r.department_id == null ? null : String(r.department_id),
    postings: Number(r.posting_count),
  };
}

/**
 * The fund's chart by code. With `limit`, one page of it (a province's fund has 15,000 accounts): the
 * cursor is the id of the last account shown and the next page starts after its code.
 */
export async function listAccounts(db: Knex, fundId: string, page?: { limit: number; cursor?: string | undefined }) {
  await getFund(db, fundId);
  const q = db('accounts').where({ fund_id: fundId }).orderBy('code');
  if (!page) return { items: (await q).map(accountView), next_cursor: null };
  if (page.cursor) {
    const at = await db('accounts').where({ fund_id: fundId, id: page.cursor }).first('code');
    if (!at) throw validationError('cursor', '不是本列表的游标');
    q.where('code', '>', at.code);
  }
  return pageOf((await q.limit(page.limit + 1)).map(accountView), page.limit, (a) => a.id);
}
