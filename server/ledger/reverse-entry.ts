import type { Knex } from 'knex';
import { Decimal } from 'decimal.js';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import type { EntryKind } from './entry-rules.ts';
import { getEntry } from './journal-read.ts';
import { prepareEntries } from './pending-entries.ts';

/**
 * Prepares the mirror of a posted entry, linked to it; another accountant approves it. An entry is
 * reversed at most once (counting a reversal still waiting); a reversal is never reversed. The
 * reversal is dated in the open period, even when the original lies in a closed one.
 */
export async function prepareReversal(
  trx: Knex.Transaction,
  ctx: RequestContext,
  entryId: string,
  input: { date?: string | undefined; memo?: string | undefined },
) {
  const original = await getEntry(trx, entryId);
  if (original.kind === 'reversal') throw new AppError('CANNOT_REVERSE_REVERSAL', `第 ${original.seq} 号凭证本身是冲销凭证`);
  const posted = await trx('journal_entries').where({ reverses_entry_id: entryId }).first('seq');
  if (posted) throw new AppError('ALREADY_REVERSED', `第 ${original.seq} 号凭证已由第 ${posted.seq} 号凭证冲销`);
  const waiting = await trx('pending_entries').where({ reverses_entry_id: entryId, status: 'pending' }).first('id');
  if (waiting) throw new AppError('ALREADY_REVERSED', `第 ${original.seq} 号凭证已有待审核的冲销凭证（${waiting.id}）`);
  const date = input.date ?? todayInShanghai();
  if (date < original.date) {
    throw new AppError('VALIDATION_FAILED', '日期：冲销日期不能早于原凭证', [{ field: 'date', message: `不能早于 ${original.date}` }]);
  }
  const { entries } = await prepareEntries(
    trx,
    ctx,
    original.fund_id,
    [
      {
        date,
        kind: 'reversal',
        memo: input.memo ?? `冲销第 ${original.seq} 号凭证`,
        documentNo: original.document_no,
        departmentId: original.department_id,
        reversesEntryId: original.id,
        reversedKind: original.kind as EntryKind,
        postings: original.postings.map((p) => ({
          accountCode: p.account_code,
          side: p.side === 'debit' ? 'credit' : 'debit',
          amount: new Decimal(p.amount),
        })),
      },
    ],
    false,
  );
  return entries[0]!;
}
