import type { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { RequestContext } from '../http/context.ts';
import type { Side } from './chart.ts';
import type { EntryDraft } from './entry-rules.ts';
import { postEntries } from './post-entries.ts';

export interface ManualEntry {
  date: string;
  memo: string;
  document_no?: string | undefined;
  postings: Array<{ account_code: string; side: Side; amount: Decimal }>;
}

function draftOf(e: ManualEntry): EntryDraft {
  return {
    date: e.date,
    kind: 'manual',
    memo: e.memo,
    documentNo: e.document_no ?? null,
    postings: e.postings.map((p) => ({ accountCode: p.account_code, side: p.side, amount: p.amount })),
  };
}

/** Manual entries by an accountant, all or nothing. */
export async function recordManualEntries(trx: Knex.Transaction, ctx: RequestContext, fundId: string, entries: ManualEntry[]) {
  const posted = await postEntries(trx, fundId, ctx.actor!.id, entries.map(draftOf));
  const [first, last] = [posted[0]!, posted[posted.length - 1]!];
  await recordAudit(trx, ctx, {
    action: posted.length === 1 ? 'ledger.manual_entry' : 'ledger.manual_batch',
    objectType: 'journal_entry',
    objectId: first.id,
    after: posted.length === 1 ? first : { entries: posted.length, first_seq: first.seq, last_seq: last.seq, head_hash: last.hash },
  });
  return posted;
}
