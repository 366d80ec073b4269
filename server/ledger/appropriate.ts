import type { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import type { RequestContext } from '../http/context.ts';
import { prepareEntries } from './pending-entries.ts';

export interface Appropriation {
  amount: Decimal;
  document_no: string;
  date: string;
  memo?: string | undefined;
}

/**
 * Appropriation received: Dr 1011 / Cr 4001 in the financial book, Dr 8001 / Cr 6001 in the budget book.
 * Prepared here; posted when another accountant approves it (pending-entries.ts).
 */
export async function prepareAppropriation(trx: Knex.Transaction, ctx: RequestContext, fundId: string, a: Appropriation) {
  const { entries } = await prepareEntries(
    trx,
    ctx,
    fundId,
    [
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
    ],
    false,
  );
  return entries[0]!;
}
