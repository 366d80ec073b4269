import type { Knex } from 'knex';
import { AppError } from '../../errors.ts';
import { ledgerIdentity, readWitness } from '../witness.ts';
import { LedgerChecker, type CheckedAnchor, type CheckedEntry, type VerifyReport } from './ledger-checker.ts';

const fetch_rows = 5000;

/**
 * Verifies one fund completely, in one REPEATABLE READ snapshot (no false alarm while others post),
 * streaming its postings through a server-side cursor (constant memory at any size): the chain, each
 * posting's running balance, each stored balance, the fund figures by kind, and every anchor — in
 * the anchors table, in issued statements, and in the witness file outside the database.
 */
export async function verifyLedger(db: Knex, fundId: string, witnessFile: string): Promise<VerifyReport> {
  // The witness is read before the snapshot is taken: every head it holds was committed by then,
  // so a head written while we read cannot look like a cut tail.
  const ledger = await ledgerIdentity(db);
  const witness = await readWitness(witnessFile, ledger, fundId);
  return db.transaction(async (trx) => {
    await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const fund = await trx('funds').where({ id: fundId }).first('id', 'head_seq', 'head_hash', 'appropriated', 'allocated', 'disbursed');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    const accounts = await trx('accounts').where({ fund_id: fundId }).select('id', 'code', 'book', 'normal_side', 'kind', 'balance');
    const stored: CheckedAnchor[] = [
      ...(await trx('ledger_anchors').where({ fund_id: fundId }).select('seq', 'hash', 'source', 'ref')).map((a) => ({ seq: Number(a.seq), hash: a.hash, source: `${a.source} ${a.ref ?? ''}`.trim() })),
      ...(await trx('statements').where({ fund_id: fundId }).select('head_seq', 'head_hash', 'statement_no')).map((s) => ({ seq: Number(s.head_seq), hash: s.head_hash, source: `statement ${s.statement_no}` })),
    ];
    const checker = new LedgerChecker(
      { id: String(fund.id), head_seq: Number(fund.head_seq), head_hash: fund.head_hash, appropriated: fund.appropriated, allocated: fund.allocated, disbursed: fund.disbursed },
      accounts.map((a) => ({ ...a, id: String(a.id) })),
      [...stored, ...witness.anchors],
    );
    for (const line of witness.unreadable) checker.problem({ kind: 'witness_unreadable', detail: `见证文件第 ${line} 行无法读取（被改动或截断）` });
    // Two cursors walked side by side: the entries (wide rows, one per entry) and their postings
    // (narrow rows), both in seq order, so a million postings do not each carry their entry's columns.
    await trx.raw(
      `DECLARE verify_entries NO SCROLL CURSOR FOR
         SELECT e.*, r.kind AS reversed_kind
           FROM journal_entries e LEFT JOIN journal_entries r ON r.id = e.reverses_entry_id
          WHERE e.fund_id = ? ORDER BY e.seq, e.id`,
      [fundId],
    );
    await trx.raw(
      `DECLARE verify_postings NO SCROLL CURSOR FOR
         SELECT p.entry_id, p.account_id, p.side, p.amount, p.balance_after
           FROM postings p JOIN journal_entries e ON e.id = p.entry_id
          WHERE e.fund_id = ? ORDER BY e.seq, e.id, p.id`,
      [fundId],
    );
    const fetchFrom = async (cursor: string) => (await trx.raw(`FETCH FORWARD ${fetch_rows} FROM ${cursor}`)).rows as Array<Record<string, unknown>>;
    let postings = await fetchFrom('verify_postings');
    let at = 0;
    for (;;) {
      const entries = await fetchFrom('verify_entries');
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
          created_at: (row.created_at as Date).toISOString(),
          prev_hash: row.prev_hash as string,
          hash: row.hash as string,
          postings: [],
        };
        for (;;) {
          if (at === postings.length) {
            if (postings.length < fetch_rows) break;
            postings = await fetchFrom('verify_postings');
            at = 0;
            if (postings.length === 0) break;
          }
          const p = postings[at]!;
          if (String(p.entry_id) !== entry.id) break;
          entry.postings.push({ account_id: String(p.account_id), side: p.side as string, amount: p.amount as string, balance_after: p.balance_after as string });
          at++;
        }
        checker.addEntry(entry);
      }
      if (entries.length < fetch_rows) break;
    }
    await trx.raw('CLOSE verify_entries');
    await trx.raw('CLOSE verify_postings');
    return checker.finish();
  });
}
