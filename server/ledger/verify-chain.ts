import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
import { entryHash, genesis_hash } from './entry-hash.ts';

const chunk_entries = 2000;

export interface ChainReport {
  ok: boolean;
  entries: number;
  head_hash: string;
  first_bad_seq: number | null;
  /** Accounts whose stored balance differs from the sum of their postings. */
  bad_accounts: string[];
}

/**
 * Recomputes the fund's hash chain from the stored rows: a changed amount, a deleted, inserted or
 * reordered row breaks it at the first affected sequence number. Also checks stored balances.
 */
export async function verifyChain(db: Knex, fundId: string): Promise<ChainReport> {
  const fund = await db('funds').where({ id: fundId }).first('id', 'head_seq', 'head_hash');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  let prevHash = genesis_hash;
  let expectedSeq = 1;
  let firstBad: number | null = null;
  let count = 0;
  for (let after = 0; firstBad === null; ) {
    const entries = await db('journal_entries').where('fund_id', fundId).where('seq', '>', after).orderBy('seq').limit(chunk_entries);
    if (entries.length === 0) break;
    const postings = await db('postings as p')
      .join('accounts as a', 'a.id', 'p.account_id')
      .whereIn('p.entry_id', entries.map((e) => e.id))
      .orderBy('p.id')
      .select('p.entry_id', 'a.code', 'p.side', 'p.amount');
    const byEntry = new Map<string, Array<{ accountCode: string; side: string; amount: string }>>();
    for (const p of postings) {
      const list = byEntry.get(String(p.entry_id)) ?? [];
      list.push({ accountCode: p.code, side: p.side, amount: p.amount });
      byEntry.set(String(p.entry_id), list);
    }
    for (const e of entries) {
      const seq = Number(e.seq);
      const hash = entryHash(prevHash, {
        fundId: String(e.fund_id),
        seq: String(e.seq),
        date: e.entry_date,
        kind: e.kind,
        memo: e.memo,
        documentNo: e.document_no,
        departmentId: e.department_id == null ? null : String(e.department_id),
        reversesEntryId: e.reverses_entry_id == null ? null : String(e.reverses_entry_id),
        createdBy: String(e.created_by),
        approvedBy: e.approved_by == null ? null : String(e.approved_by),
        createdAt: (e.created_at as Date).toISOString(),
        postings: byEntry.get(String(e.id)) ?? [],
      });
      if (seq !== expectedSeq || e.prev_hash !== prevHash || e.hash !== hash) {
        firstBad = Math.min(seq, expectedSeq);
        break;
      }
      prevHash = hash;
      expectedSeq++;
      count++;
    }
    after = Number(entries[entries.length - 1].seq);
  }
  if (firstBad === null && (Number(fund.head_seq) !== count || fund.head_hash !== prevHash)) firstBad = count + 1;
  const badAccounts = await db('accounts as a')
    .where('a.fund_id', fundId)
    .whereRaw(
      `a.balance <> coalesce((SELECT sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END)
                                FROM postings p WHERE p.account_id = a.id), 0)`,
    )
    .orderBy('a.code')
    .pluck('a.code');
  return { ok: firstBad === null && badAccounts.length === 0, entries: count, head_hash: prevHash, first_bad_seq: firstBad, bad_accounts: badAccounts };
}
