import type { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { RequestContext } from '../http/context.ts';
import type { Side } from './chart.ts';
import type { EntryDraft } from './entry-rules.ts';
import { getEntries } from './journal-read.ts';
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
  const views = await getEntries(trx, posted.map((p) => p.id));
  await recordAudit(trx, ctx, {
    action: entries.length === 1 ? 'ledger.manual_entry' : 'ledger.manual_batch',
    objectType: 'journal_entry',
    objectId: posted[0]!.id,
    after: entries.length === 1 ? views[0] : { entries: posted.length, first_seq: posted[0]!.seq, last_seq: posted[posted.length - 1]!.seq },
  });
  return views;
}
