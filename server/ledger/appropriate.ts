import type { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { RequestContext } from '../http/context.ts';
import { postEntries } from './post-entries.ts';

export interface Appropriation {
  amount: Decimal;
  document_no: string;
  date: string;
  memo?: string | undefined;
}

/** Appropriation received: Dr 1011 / Cr 4001 in the financial book, Dr 8001 / Cr 6001 in the budget book. */
export async function recordAppropriation(trx: Knex.Transaction, ctx: RequestContext, fundId: string, a: Appropriation) {
  const [entry] = await postEntries(trx, fundId, ctx.actor!.id, [
    {
      date: a.date,
      kind: 'appropriation',
      memo: a.memo ?? `财政拨款 ${a.document_no}`,
      documentNo: a.document_no,
      postings: [
        { accountCode: '1011', side: 'debit', amount: a.amount },
        { accountCode: '4001', side: 'credit', amount: a.amount },
        { accountCode: '8001', side: 'debit', amount: a.amount },
        { accountCode: '6001', side: 'credit', amount: a.amount },
      ],
    },
  ]);
  await recordAudit(trx, ctx, { action: 'ledger.appropriation', objectType: 'journal_entry', objectId: entry!.id, after: entry });
  return entry!;
}
