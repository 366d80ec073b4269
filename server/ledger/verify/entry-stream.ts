import type { Knex } from 'knex';
import pg from 'pg';
import type { CheckedEntry } from './ledger-checker.ts';

/*
 * Rows come back as arrays of the database's own text (no object per row, no numeric or date
 * parsing): a full verify reads millions of postings, and building one object per row and field
 * cost more than reading them. Only created_at goes through pg's timestamp parser, as the hash
 * was made from a JavaScript Date's ISO string (the posting path's).
 */
const fetch_rows = 20_000;
const timestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ);
const asText = (value: string) => value;
const textRows = {
  rowMode: 'array',
  types: { getTypeParser: (oid: number) => (oid === pg.types.builtins.TIMESTAMPTZ ? timestamptz : asText) },
};

type Row = Array<string | null>;

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
       SELECT e.id, e.fund_id, e.seq, e.entry_date, e.kind, e.memo, e.document_no, e.department_id, e.reverses_entry_id,
              r.kind AS reversed_kind, e.created_by, e.approved_by, e.created_at, e.prev_hash, e.hash
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
  // The next batch of each cursor is asked for before this one is checked, so the database reads
  // it while the checker hashes. One connection: each FETCH is sent when the one before it has
  // answered (a query sent while another runs on the same client is deprecated in pg).
  let inFlight: Promise<unknown> = Promise.resolve();
  const fetchFrom = (cursor: string) => {
    const rows = inFlight.then(() =>
      trx
        .raw(`FETCH FORWARD ${fetch_rows} FROM ${cursor}`)
        .options(textRows)
        .then((r) => r.rows as Row[]),
    );
    // A batch asked for ahead and never awaited (the reader stopped early) must not fail the process.
    inFlight = rows.catch(() => undefined);
    return rows;
  };
  let nextPostings = fetchFrom('stream_postings');
  let nextEntries = fetchFrom('stream_entries');
  let postings: Row[] = [];
  let postingsDone = false;
  let at = 0;
  for (;;) {
    const entries = await nextEntries;
    if (entries.length === fetch_rows) nextEntries = fetchFrom('stream_entries');
    for (const row of entries) {
      const id = row[0]!;
      const entry: CheckedEntry = {
        id,
        fund_id: row[1]!,
        seq: Number(row[2]),
        entry_date: row[3]!,
        kind: row[4]!,
        memo: row[5]!,
        document_no: row[6] ?? null,
        department_id: row[7] ?? null,
        reverses_entry_id: row[8] ?? null,
        reversed_kind: row[9] ?? null,
        created_by: row[10]!,
        approved_by: row[11] ?? null,
        created_at: (row[12] as unknown as Date).toISOString(),
        prev_hash: row[13]!,
        hash: row[14]!,
        postings: [],
      };
      for (;;) {
        if (at === postings.length) {
          if (postingsDone) break;
          postings = await nextPostings;
          at = 0;
          postingsDone = postings.length < fetch_rows;
          if (!postingsDone) nextPostings = fetchFrom('stream_postings');
          if (postings.length === 0) break;
        }
        const p = postings[at]!;
        if (p[0] !== id) break;
        entry.postings.push({ account_id: p[1]!, side: p[2]!, amount: p[3]!, balance_after: p[4]! });
        at++;
      }
      yield entry;
    }
    if (entries.length < fetch_rows) break;
  }
  await trx.raw('CLOSE stream_entries');
  await trx.raw('CLOSE stream_postings');
}
