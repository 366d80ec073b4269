import type { Knex } from 'knex';
import { getFund } from './funds.ts';

interface Row {
  code: string;
  name: string;
  book: 'financial' | 'budget';
  normal_side: 'debit' | 'credit';
  /** numeric(18,2) as PostgreSQL prints it: '-12.50', '0.00'. */
  balance: string;
}

/** Accounts read per query: small enough that PostgreSQL walks the (fund_id, code) index in order rather than scanning the table and sorting. */
const chunk_accounts = 2000;

const money = /^-?[0-9]+\.[0-9]{2}$/;

/** Exact fen of an amount with two decimals, as PostgreSQL prints numeric(18,2). */
function fenOf(amount: string): bigint {
  if (!money.test(amount)) throw new Error(`balance ${amount} is not an amount with two decimals`);
  return BigInt(amount.replace('.', ''));
}

function yuanOf(fen: bigint): string {
  const s = String(fen).padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

/**
 * Balances per account and per book. Without `as_of`, or as of a day on or after the fund's last
 * entry, it reads the stored balances (O(accounts)); as of an earlier day, each account's closing
 * balance on the last day on or before it that has postings (account_day_balances, kept by the
 * postings trigger of migration 013, back-dated entries included): one index probe per account,
 * never a sum over postings.
 *
 * At province scale a fund has 15,000 accounts. They are read in code order by the (fund_id, code)
 * index, a chunk at a time, all in one read-only snapshot so the books stay balanced while others post:
 * the accounts heap is mostly dead space after balance updates, and a scan of it with a sort costs
 * several times the index walk. Each balance is shaped from PostgreSQL's own text (sign and digits)
 * and the book totals are summed in exact fen: no decimal arithmetic per row.
 */
export async function trialBalance(db: Knex, fundId: string, asOf: string | undefined) {
  // Inside the caller's transaction (a period close holds the fund's lock, so nothing posts between
  // the chunks) or in a read-only snapshot of its own.
  const rows = db.isTransaction
    ? await accountRows(db, fundId, asOf)
    : await db.transaction(async (trx) => {
        await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        return accountRows(trx, fundId, asOf);
      });
  // Every fund has its fixed accounts: none means no such fund (404).
  if (rows.length === 0) await getFund(db, fundId);
  const totals = { financial: { debit: 0n, credit: 0n }, budget: { debit: 0n, credit: 0n } };
  const accounts = rows.map((r) => {
    const contrary = r.balance.startsWith('-');
    const amount = contrary ? r.balance.slice(1) : r.balance;
    // A balance on the normal side shows in that column; a contrary balance in the other.
    const column = contrary === (r.normal_side === 'debit') ? 'credit' : 'debit';
    totals[r.book][column] += fenOf(amount);
    return {
      code: r.code,
      name: r.name,
      book: r.book,
      normal_side: r.normal_side,
      debit: column === 'debit' ? amount : '0.00',
      credit: column === 'credit' ? amount : '0.00',
    };
  });
  const total = (b: { debit: bigint; credit: bigint }) => ({ debit: yuanOf(b.debit), credit: yuanOf(b.credit), balanced: b.debit === b.credit });
  return { as_of: asOf ?? null, books: { financial: total(totals.financial), budget: total(totals.budget) }, accounts };
}

/** The fund's accounts by code, a chunk at a time, with each balance as stored or as of `asOf`. */
async function accountRows(trx: Knex, fundId: string, asOf: string | undefined): Promise<Row[]> {
  // As of a day on or after the fund's last entry (a year's end, today), every posting counts: the
  // stored balances are the answer, without a probe per account.
  const last = asOf ? ((await trx('journal_entries').where('fund_id', fundId).max('entry_date as day').first()) as { day: string | null }) : null;
  const byDay = asOf !== undefined && last?.day != null && last.day > asOf;
  const all: Row[] = [];
  for (let after = ''; ;) {
    const q = trx('accounts as a')
      .where('a.fund_id', fundId)
      .where('a.code', '>', after)
      .orderBy('a.code')
      .limit(chunk_accounts)
      .select('a.code', 'a.name', 'a.book', 'a.normal_side');
    if (byDay)
      q.select(
        trx.raw(
          `coalesce((SELECT b.balance FROM account_day_balances b
                        WHERE b.account_id = a.id AND b.day <= ? ORDER BY b.day DESC LIMIT 1), 0)::numeric(18,2)::text AS balance`,
          [asOf],
        ),
      );
    else q.select(trx.raw('a.balance::text AS balance'));
    const chunk: Row[] = await q;
    all.push(...chunk);
    if (chunk.length < chunk_accounts) break;
    after = chunk[chunk.length - 1]!.code;
  }
  return all;
}
