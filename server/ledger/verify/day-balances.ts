import type { Knex } from 'knex';
import { fen, yuanOf, type Problem } from './ledger-checker.ts';

/*
 * The per-account per-day closing balances (account_day_balances, migration 013) that the as-of trial
 * balance reads: kept by a trigger, so a row written past it (as the owner, triggers off) would make
 * every as-of report wrong while the journal stays right. Recomputed here from the postings, in the
 * verify's snapshot, by the database (a sum per account and day, then a running sum): a row whose
 * balance differs, a day with postings but no row, and a row for a day without postings are each named.
 */

const listed_max = 50;

interface DayRow {
  code: string;
  day: string | null;
  stored: string | null;
  expected: string | null;
}

function problemsOf(rows: DayRow[], total: number): Problem[] {
  const problems = rows.map((r): Problem => {
    const where = r.day ? `科目 ${r.code} ${r.day} 的日终余额` : `科目 ${r.code} 的日终余额`;
    const detail =
      r.stored === null
        ? `${where}缺失（当日有分录，按分录累计应为 ${yuanOf(fen(r.expected!))}）`
        : r.expected === null
          ? `${where}记为 ${r.stored}，而当日没有分录（多出的日余额）`
          : `${where}记为 ${r.stored}，按分录累计应为 ${yuanOf(fen(r.expected))}`;
    return { kind: 'day_balance', account: r.code, ...(r.day ? { day: r.day } : {}), detail };
  });
  if (total > rows.length) problems.push({ kind: 'day_balance', detail: `另有 ${total - rows.length} 个日终余额不符，未列出` });
  return problems;
}

/**
 * The full check, started alongside the entry stream: on a second connection that imports the
 * verify's snapshot (so both read the same books), the database sums the day balances while the
 * service hashes the chain. With no connection to spare in the pool, it runs after the stream, in the
 * verify's own transaction. Call before the stream; await the result before the transaction ends.
 */
export async function startDayBalanceCheck(db: Knex, trx: Knex.Transaction, fundId: string): Promise<() => Promise<Problem[]>> {
  const pool = (db.client as { pool?: { numUsed(): number; numPendingAcquires(): number; max: number } }).pool;
  if (!pool || pool.numUsed() + pool.numPendingAcquires() >= pool.max - 1) return () => dayBalanceProblems(trx, fundId);
  const snapshot = (await trx.raw('SELECT pg_export_snapshot() AS s')).rows[0].s as string;
  const problems = db.transaction(async (other) => {
    await other.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await other.raw(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/[^0-9A-Za-z-]/g, '')}'`);
    await other.raw("SET LOCAL work_mem = '64MB'");
    return dayBalanceProblems(other, fundId);
  });
  // Awaited by the caller after the stream; until then a failure must not go unhandled.
  problems.catch(() => undefined);
  return () => problems;
}

/** Every day balance of the fund against the running sum of its postings by entry date (a full verify). */
export async function dayBalanceProblems(trx: Knex.Transaction, fundId: string): Promise<Problem[]> {
  const rows = (
    await trx.raw(
      `WITH expected AS (
         SELECT d.account_id, d.day, sum(d.delta) OVER (PARTITION BY d.account_id ORDER BY d.day) AS balance
           FROM (SELECT p.account_id, e.entry_date AS day,
                        sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END) AS delta
                   FROM journal_entries e
                   JOIN postings p ON p.entry_id = e.id
                   JOIN accounts a ON a.id = p.account_id
                  WHERE e.fund_id = ?
                  GROUP BY p.account_id, e.entry_date) d),
       stored AS (
         SELECT b.account_id, b.day, b.balance
           FROM account_day_balances b JOIN accounts a ON a.id = b.account_id
          WHERE a.fund_id = ?),
       wrong AS (
         SELECT coalesce(x.account_id, s.account_id) AS account_id, coalesce(x.day, s.day) AS day,
                s.balance::text AS stored, x.balance::text AS expected
           FROM expected x FULL JOIN stored s ON s.account_id = x.account_id AND s.day = x.day
          WHERE s.balance IS DISTINCT FROM x.balance)
       SELECT coalesce(a.code, w.account_id::text) AS code, w.day::text AS day, w.stored, w.expected, count(*) OVER () AS total
         FROM wrong w LEFT JOIN accounts a ON a.id = w.account_id
        ORDER BY w.account_id, w.day
        LIMIT ${listed_max}`,
      [fundId, fundId],
    )
  ).rows as Array<DayRow & { total: string }>;
  return problemsOf(rows, rows.length ? Number(rows[0]!.total) : 0);
}

/**
 * What an incremental verify can check of the day balances without reading the whole journal, for
 * each account an entry after the checkpoint posts to: on each day such an entry is dated, the step
 * from the account's previous day balance equals the sum of that day's postings to it, and its last
 * day balance equals its running sum (`running`: the verify's, from the checkpoint on). The day
 * balances of accounts no new entry touches are left to a full verify.
 */
export async function dayBalanceProblemsSince(
  trx: Knex.Transaction,
  fundId: string,
  afterSeq: number,
  running: Array<[accountId: string, balance: string]>,
): Promise<Problem[]> {
  const rows = (
    await trx.raw(
      `WITH touched AS (
         SELECT DISTINCT p.account_id, e.entry_date AS day
           FROM journal_entries e JOIN postings p ON p.entry_id = e.id
          WHERE e.fund_id = ? AND e.seq > ?),
       -- By day: each touched day's entries (by date), then each entry's postings (OFFSET 0 keeps both
       -- probes). By account the planner read every posting of 1011 (555,000 at 10 M postings) to keep
       -- the 2,000 of one day.
       day_delta AS (
         SELECT p.account_id, e.day,
                sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END) AS delta
           FROM (SELECT DISTINCT day FROM touched) t
           CROSS JOIN LATERAL (SELECT j.id, j.entry_date AS day FROM journal_entries j
                                WHERE j.fund_id = ? AND j.entry_date = t.day OFFSET 0) e
           CROSS JOIN LATERAL (SELECT q.account_id, q.side, q.amount FROM postings q WHERE q.entry_id = e.id OFFSET 0) p
           JOIN accounts a ON a.id = p.account_id
          WHERE (p.account_id, e.day) IN (SELECT account_id, day FROM touched)
          GROUP BY p.account_id, e.day),
       stepped AS (
         SELECT d.account_id, d.day, b.balance AS stored, coalesce(prev.balance, 0) + d.delta AS expected
           FROM day_delta d
           LEFT JOIN account_day_balances b ON b.account_id = d.account_id AND b.day = d.day
           LEFT JOIN LATERAL (SELECT q.balance FROM account_day_balances q
                               WHERE q.account_id = d.account_id AND q.day < d.day
                               ORDER BY q.day DESC LIMIT 1) prev ON true),
       last_day AS (
         SELECT r.account_id, l.day, l.balance AS stored, r.balance AS expected
           FROM unnest(?::bigint[], ?::numeric[]) AS r(account_id, balance)
           LEFT JOIN LATERAL (SELECT q.day, q.balance FROM account_day_balances q
                               WHERE q.account_id = r.account_id ORDER BY q.day DESC LIMIT 1) l ON true
          WHERE r.account_id IN (SELECT account_id FROM touched)),
       wrong AS (
         SELECT account_id, day, stored, expected FROM stepped WHERE stored IS DISTINCT FROM expected
         UNION
         SELECT account_id, day, stored, expected FROM last_day WHERE stored IS DISTINCT FROM expected)
       SELECT a.code, w.day::text AS day, w.stored::text AS stored, w.expected::text AS expected, count(*) OVER () AS total
         FROM wrong w JOIN accounts a ON a.id = w.account_id
        ORDER BY w.account_id, w.day
        LIMIT ${listed_max}`,
      [fundId, afterSeq, fundId, running.map(([id]) => id), running.map(([, balance]) => balance)],
    )
  ).rows as Array<DayRow & { total: string }>;
  return problemsOf(rows, rows.length ? Number(rows[0]!.total) : 0);
}
