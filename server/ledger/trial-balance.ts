import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { getFund } from './funds.ts';
import { formatAmount, zero } from './money.ts';

interface Line {
  code: string;
  name: string;
  book: string;
  normal_side: string;
  balance: string;
}

/**
 * Balances per account and per book. Without `as_of` it reads the stored balances (O(accounts));
 * with `as_of`, each account's closing balance on the last day on or before it that has postings
 * (account_day_balances, kept by the postings trigger of migration 013, back-dated entries included):
 * one index probe per account, never a sum over postings.
 */
export async function trialBalance(db: Knex, fundId: string, asOf: string | undefined) {
  await getFund(db, fundId);
  const rows: Line[] = asOf
    ? await db('accounts as a')
        .where('a.fund_id', fundId)
        .select(
          'a.code',
          'a.name',
          'a.book',
          'a.normal_side',
          db.raw(
            `coalesce((SELECT b.balance FROM account_day_balances b
                        WHERE b.account_id = a.id AND b.day <= ? ORDER BY b.day DESC LIMIT 1), 0) AS balance`,
            [asOf],
          ),
        )
        .orderBy('a.code')
    : await db('accounts').where({ fund_id: fundId }).orderBy('code').select('code', 'name', 'book', 'normal_side', 'balance');
  const books = { financial: { debit: zero, credit: zero }, budget: { debit: zero, credit: zero } };
  const accounts = rows.map((r) => {
    const balance = new Decimal(r.balance);
    // A balance on the normal side shows in that column; a contrary balance in the other.
    const column = balance.isNegative() === (r.normal_side === 'debit') ? 'credit' : 'debit';
    const book = books[r.book as keyof typeof books];
    book[column] = book[column].plus(balance.abs());
    return {
      code: r.code,
      name: r.name,
      book: r.book,
      normal_side: r.normal_side,
      debit: column === 'debit' ? formatAmount(balance.abs()) : '0.00',
      credit: column === 'credit' ? formatAmount(balance.abs()) : '0.00',
    };
  });
  const total = (b: { debit: Decimal; credit: Decimal }) => ({ debit: formatAmount(b.debit), credit: formatAmount(b.credit), balanced: b.debit.eq(b.credit) });
  return { as_of: asOf ?? null, books: { financial: total(books.financial), budget: total(books.budget) }, accounts };
}
