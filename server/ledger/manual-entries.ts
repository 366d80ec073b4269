import type { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import type { RequestContext } from '../http/context.ts';
import type { Side } from './chart.ts';
import type { EntryDraft } from './entry-rules.ts';
import { prepareEntries } from './pending-entries.ts';

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

/** A manual entry by an accountant, prepared for another to approve. */
export async function prepareManualEntry(trx: Knex.Transaction, ctx: RequestContext, fundId: string, entry: ManualEntry) {
  const { entries } = await prepareEntries(trx, ctx, fundId, [draftOf(entry)], false);
  return entries[0]!;
}

/** Manual entries prepared as one batch: approved (and posted) all together or not at all. */
export async function prepareManualBatch(trx: Knex.Transaction, ctx: RequestContext, fundId: string, entries: ManualEntry[]) {
  const { batchId, entries: prepared } = await prepareEntries(trx, ctx, fundId, entries.map(draftOf), true);
  return { id: batchId!, fund_id: String(fundId), status: 'pending' as const, count: prepared.length, entry_ids: prepared.map((e) => e.id) };
}
