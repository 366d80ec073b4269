import type { Knex } from 'knex';
import type { CheckedEntry } from './ledger-checker.ts';

const fetch_rows = 5000;

/**
 * A fund's entries in seq order, each with its postings, read through two server-side cursors
 * walked side by side: the entries (one wide row each) and their postings (narrow rows), so a
 * million postings stream in constant memory and do not each repeat their entry's columns.
 * `afterSeq` starts after a checkpoint (an incremental verify).
 * Runs inside the caller's transaction (a REPEATABLE READ snapshot for verify and the bundle).
 */
export async function* entriesOf(trx: Knex.Transaction, fundId: string, afterSeq = 0): AsyncGenerator<CheckedEntry> {
  await trx.raw(
    `DECLARE stream_entries NO SCROLL CURSOR FOR
       SELECT e.*, r.kind AS reversed_kind
         FROM journal_entries e LEFT JOIN journal_entries r ON r.id = e.reverses_entry_id
        WHERE e.fund_id = ? AND e.seq > ? ORDER BY e.seq, e.id`,
    [fundId, afterSeq],
  );
  await trx.raw(
    `DECLARE stream_postings NO SCROLL CURSOR FOR
       SELECT p.entry_id, p.account_id, p.side, p.amount, p.balance_after
         FROM postings p JOIN journal_entries e ON e.id = p.entry_id
        WHERE e.fund_id = ? AND e.seq > ? ORDER BY e.seq, e.id, p.id`,
    [fundId, afterSeq],
  );
  const fetchFrom = async (cursor: string) => (await trx.raw(`FETCH FORWARD ${fetch_rows} FROM ${cursor}`)).rows as Array<Record<string, unknown>>;
  let postings = await fetchFrom('stream_postings');
  let at = 0;
  for (;;) {
    const entries = await fetchFrom('stream_entries');
    for (const row of entries) {
      const entry: CheckedEntry = {
        id: String(row.id),
        fund_id: String(row.fund_id),
        seq: Number(row.seq),
        entry_date: row.entry_date as string,
        kind: row.kind as string,
        memo: row.memo as string,
        document_no: (row.document_no as string | null) ?? null,
        department_id: row.department_id == null ? null : String(row.department_id),
        reverses_entry_id: row.reverses_entry_id == null ? null : String(row.reverses_entry_id),
        reversed_kind: (row.reversed_kind as string | null) ?? null,
        created_by: String(row.created_by),
        approved_by: row.approved_by == null ? null : String(row.approved_by),
        created_at: (row.created_at as Date).toISOString(),
        prev_hash: row.prev_hash as string,
        hash: row.hash as string,
        postings: [],
      };
      for (;;) {
        if (at === postings.length) {
          if (postings.length < fetch_rows) break;
          postings = await fetchFrom('stream_postings');
          at = 0;
          if (postings.length === 0) break;
        }
        const p = postings[at]!;
        if (String(p.entry_id) !== entry.id) break;
        entry.postings.push({ account_id: String(p.account_id), side: p.side as string, amount: p.amount as string, balance_after: p.balance_after as string });
        at++;
      }
      yield entry;
    }
    if (entries.length < fetch_rows) break;
  }
  await trx.raw('CLOSE stream_entries');
  await trx.raw('CLOSE stream_postings');
}
