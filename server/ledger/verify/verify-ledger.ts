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
    await trx.raw(
      `DECLARE verify_rows NO SCROLL CURSOR FOR
         SELECT e.*, r.kind AS reversed_kind, p.id AS posting_id, p.account_id, p.side, p.amount, p.balance_after
           FROM journal_entries e
           LEFT JOIN journal_entries r ON r.id = e.reverses_entry_id
           LEFT JOIN postings p ON p.entry_id = e.id
          WHERE e.fund_id = ?
          ORDER BY e.seq, p.id`,
      [fundId],
    );
    let current: CheckedEntry | undefined;
    for (;;) {
      const { rows } = await trx.raw(`FETCH FORWARD ${fetch_rows} FROM verify_rows`);
      for (const row of rows) {
        if (!current || current.id !== String(row.id)) {
          if (current) checker.addEntry(current);
          current = {
            id: String(row.id),
            fund_id: String(row.fund_id),
            seq: Number(row.seq),
            entry_date: row.entry_date,
            kind: row.kind,
            memo: row.memo,
            document_no: row.document_no,
            department_id: row.department_id == null ? null : String(row.department_id),
            reverses_entry_id: row.reverses_entry_id == null ? null : String(row.reverses_entry_id),
            reversed_kind: row.reversed_kind ?? null,
            created_by: String(row.created_by),
            created_at: (row.created_at as Date).toISOString(),
            prev_hash: row.prev_hash,
            hash: row.hash,
            postings: [],
          };
        }
        if (row.posting_id != null) current.postings.push({ account_id: String(row.account_id), side: row.side, amount: row.amount, balance_after: row.balance_after });
      }
      if (rows.length < fetch_rows) break;
    }
    if (current) checker.addEntry(current);
    await trx.raw('CLOSE verify_rows');
    return checker.finish();
  });
}
