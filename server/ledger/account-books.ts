import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
import { pageOf } from '../db/pagination.ts';
import { departmentAccounts, fundAccounts, type Side } from './chart.ts';
import { getFund } from './funds.ts';
import { voucherNo } from './journal-read.ts';
import { whereAccountOrSubAccounts } from './journal-filter.ts';
import { formatAmount } from './money.ts';

/*
 * 明细账 and 总账 for a period, the way 用友/金蝶 print them: 期初余额, 本期借方, 本期贷方, 期末余额,
 * each balance with its direction (借/贷/平). Balances here are by entry date (a back-dated voucher
 * counts in the period of its date), not the posting order's balance_after: a period is a range of
 * dates. A first-level code that has unit sub-accounts (2307, 5001, 7101) takes all of them.
 */

export interface Period {
  from: string;
  to: string;
}

/** A balance as the books print it: amount without sign and the side it stands on. */
export function directed(balance: Decimal, normalSide: Side): { direction: '借' | '贷' | '平'; amount: string } {
  if (balance.isZero()) return { direction: '平', amount: '0.00' };
  const onNormal = balance.isPositive();
  const side = onNormal ? normalSide : normalSide === 'debit' ? 'credit' : 'debit';
  return { direction: side === 'debit' ? '借' : '贷', amount: formatAmount(balance.abs()) };
}

/** The account (or first-level parent) a ledger is kept for. */
export function ledgerAccountOf(code: string): { code: string; name: string; book: string; normal_side: Side; parent: boolean } | null {
  const fixed = fundAccounts.find((a) => a.code === code);
  if (fixed) return { code, name: fixed.name, book: fixed.book, normal_side: fixed.normalSide, parent: false };
  const base = departmentAccounts[code];
  if (base) return { code, name: base.name, book: base.book, normal_side: base.normalSide, parent: true };
  return null;
}

const signed = `CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END`;

async function accountIds(db: Knex, fundId: string, code: string) {
  const parent = ledgerAccountOf(code)?.parent ?? false;
  const rows = await (parent ? whereAccountOrSubAccounts(db('accounts'), code).whereNot('code', code) : db('accounts').where('code', code))
    .where({ fund_id: fundId })
    .select('id', 'code', 'name', 'book', 'normal_side');
  return rows as Array<{ id: string; code: string; name: string; book: string; normal_side: Side }>;
}

/** 明细账: one account's postings in the period, oldest first (date, voucher), with the running balance. The cursor is a posting id. */
export async function accountLedger(db: Knex, fundId: string, code: string, period: Period, limit: number, cursor?: string) {
  if (period.from > period.to) throw new AppError('VALIDATION_FAILED', '起始日期不能晚于截止日期', [{ field: 'from', message: '起始日期不能晚于截止日期' }]);
  await getFund(db, fundId);
  const accounts = await accountIds(db, fundId, code);
  const known =
    ledgerAccountOf(code) ??
    (accounts[0] ? { code, name: accounts[0].name, book: accounts[0].book, normal_side: accounts[0].normal_side, parent: false } : null);
  if (!known) throw new AppError('NOT_FOUND', `本资金没有科目 ${code}`);
  const ids = accounts.map((a) => a.id);
  const sums = async (where: (q: Knex.QueryBuilder) => void) => {
    const q = db('postings as p')
      .join('journal_entries as e', 'e.id', 'p.entry_id')
      .join('accounts as a', 'a.id', 'p.account_id')
      .whereIn('p.account_id', ids.length ? ids : ['0']);
    where(q);
    const [row] = await q.select(
      db.raw(`coalesce(sum(${signed}), 0)::numeric(18,2) AS net`),
      db.raw(`coalesce(sum(p.amount) FILTER (WHERE p.side = 'debit'), 0)::numeric(18,2) AS debit`),
      db.raw(`coalesce(sum(p.amount) FILTER (WHERE p.side = 'credit'), 0)::numeric(18,2) AS credit`),
    );
    return { net: new Decimal(row.net), debit: new Decimal(row.debit), credit: new Decimal(row.credit) };
  };
  const opening = (await sums((q) => q.where('e.entry_date', '<', period.from))).net;
  const inPeriod = await sums((q) => q.whereBetween('e.entry_date', [period.from, period.to]));
  const order = '(e.entry_date, vn.voucher_year, vn.number, p.id)';
  const after = (q: Knex.QueryBuilder) => {
    if (cursor)
      q.whereRaw(
        `${order} > (SELECT ce.entry_date, cv.voucher_year, cv.number, cp.id FROM postings cp JOIN journal_entries ce ON ce.id = cp.entry_id
                       JOIN voucher_numbers cv ON cv.entry_id = ce.id WHERE cp.id = ?)`,
        [cursor],
      );
  };
  // The running balance at the top of this page: the opening plus the period's postings before it.
  const before = cursor
    ? (
        await sums((q) =>
          q
            .join('voucher_numbers as vn', 'vn.entry_id', 'e.id')
            .where('e.entry_date', '>=', period.from)
            .whereRaw(
              `${order} <= (SELECT ce.entry_date, cv.voucher_year, cv.number, cp.id FROM postings cp JOIN journal_entries ce ON ce.id = cp.entry_id
                             JOIN voucher_numbers cv ON cv.entry_id = ce.id WHERE cp.id = ?)`,
              [cursor],
            ),
        )
      ).net
    : new Decimal(0);
  const q = db('postings as p')
    .join('journal_entries as e', 'e.id', 'p.entry_id')
    .join('accounts as a', 'a.id', 'p.account_id')
    .join('voucher_numbers as vn', 'vn.entry_id', 'e.id')
    .whereIn('p.account_id', ids.length ? ids : ['0'])
    .whereBetween('e.entry_date', [period.from, period.to])
    .orderBy([{ column: 'e.entry_date' }, { column: 'vn.voucher_year' }, { column: 'vn.number' }, { column: 'p.id' }])
    .limit(limit + 1)
    .select('p.id', 'p.side', 'p.amount', 'a.code', 'a.name', 'e.id as entry_id', 'e.entry_date', 'e.kind', 'e.memo', 'vn.number as voucher_number');
  after(q);
  const page = pageOf(await q, limit, (r) => r.id as string);
  let running = opening.plus(before);
  const normal = known.normal_side;
  const items = page.items.map((r) => {
    const amount = new Decimal(r.amount);
    running = running.plus(r.side === normal ? amount : amount.neg());
    const balance = directed(running, normal);
    return {
      posting_id: String(r.id),
      entry_id: String(r.entry_id),
      date: String(r.entry_date),
      voucher_no: voucherNo(Number(r.voucher_number)),
      kind: String(r.kind),
      memo: String(r.memo),
      account_code: String(r.code),
      account_name: String(r.name),
      debit: r.side === 'debit' ? formatAmount(amount) : null,
      credit: r.side === 'credit' ? formatAmount(amount) : null,
      direction: balance.direction,
      balance: balance.amount,
    };
  });
  const closing = opening.plus(inPeriod.net);
  return {
    account: { code: known.code, name: known.name, book: known.book, normal_side: normal, sub_accounts: known.parent ? accounts.length : 0 },
    period,
    opening: directed(opening, normal),
    debit_total: formatAmount(inPeriod.debit),
    credit_total: formatAmount(inPeriod.credit),
    closing: directed(closing, normal),
    items,
    next_cursor: page.next_cursor,
  };
}

/** 总账: per first-level account of one book, 期初余额, 本期借方, 本期贷方, 期末余额 for the period. */
export async function generalLedger(db: Knex, fundId: string, book: 'financial' | 'budget', period: Period) {
  if (period.from > period.to) throw new AppError('VALIDATION_FAILED', '起始日期不能晚于截止日期', [{ field: 'from', message: '起始日期不能晚于截止日期' }]);
  await getFund(db, fundId);
  const rows = await db('accounts as a')
    .leftJoin('postings as p', 'p.account_id', 'a.id')
    .leftJoin('journal_entries as e', 'e.id', 'p.entry_id')
    .where('a.fund_id', fundId)
    .where('a.book', book)
    .groupByRaw("split_part(a.code, '.', 1)")
    .select(
      db.raw(`split_part(a.code, '.', 1) AS code`),
      db.raw(`coalesce(sum(${signed}) FILTER (WHERE e.entry_date < ?), 0)::numeric(18,2) AS opening`, [period.from]),
      db.raw(`coalesce(sum(p.amount) FILTER (WHERE p.side = 'debit' AND e.entry_date BETWEEN ? AND ?), 0)::numeric(18,2) AS debit`, [period.from, period.to]),
      db.raw(`coalesce(sum(p.amount) FILTER (WHERE p.side = 'credit' AND e.entry_date BETWEEN ? AND ?), 0)::numeric(18,2) AS credit`, [period.from, period.to]),
      db.raw(`coalesce(sum(${signed}) FILTER (WHERE e.entry_date <= ?), 0)::numeric(18,2) AS closing`, [period.to]),
    );
  const byCode = new Map(rows.map((r: Record<string, string>) => [r.code, r]));
  const codes = [
    ...fundAccounts.filter((a) => a.book === book).map((a) => a.code),
    ...Object.keys(departmentAccounts).filter((c) => departmentAccounts[c]!.book === book),
  ].sort();
  let debit = new Decimal(0);
  let credit = new Decimal(0);
  const accounts = codes.map((code) => {
    const account = ledgerAccountOf(code)!;
    const r = byCode.get(code);
    debit = debit.plus(r?.debit ?? 0);
    credit = credit.plus(r?.credit ?? 0);
    return {
      code,
      name: account.name,
      normal_side: account.normal_side,
      opening: directed(new Decimal(r?.opening ?? 0), account.normal_side),
      debit: formatAmount(new Decimal(r?.debit ?? 0)),
      credit: formatAmount(new Decimal(r?.credit ?? 0)),
      closing: directed(new Decimal(r?.closing ?? 0), account.normal_side),
    };
  });
  return { book, period, accounts, debit_total: formatAmount(debit), credit_total: formatAmount(credit) };
}
