import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { getEntry } from './journal-read.ts';
import { postEntries } from './post-entries.ts';
import { Decimal } from 'decimal.js';

/** Posts the mirror of an entry, linked to it. An entry is reversed at most once; a reversal is never reversed. */
export async function reverseEntry(trx: Knex.Transaction, ctx: RequestContext, entryId: string, input: { date?: string | undefined; memo?: string | undefined }) {
  const original = await getEntry(trx, entryId);
  // Lock the fund first (as every poster does) so two reversals of one entry queue up here.
  await trx('funds').where({ id: original.fund_id }).forUpdate().first('id');
  if (original.kind === 'reversal') throw new AppError('CANNOT_REVERSE_REVERSAL', `第 ${original.seq} 号凭证本身是冲销凭证`);
  const already = await trx('journal_entries').where({ reverses_entry_id: entryId }).first('seq');
  if (already) throw new AppError('ALREADY_REVERSED', `第 ${original.seq} 号凭证已由第 ${already.seq} 号凭证冲销`);
  const date = input.date ?? todayInShanghai();
  if (date < original.date) {
    throw new AppError('VALIDATION_FAILED', '日期：冲销日期不能早于原凭证', [
      { field: 'date', message: `不能早于 ${original.date}` },
    ]);
  }
  const [reversal] = await postEntries(trx, original.fund_id, ctx.actor!.id, [
    {
      date,
      kind: 'reversal',
      memo: input.memo ?? `冲销第 ${original.seq} 号凭证`,
      documentNo: original.document_no,
      departmentId: original.department_id,
      reversesEntryId: original.id,
      postings: original.postings.map((p) => ({
        accountCode: p.account_code,
        side: p.side === 'debit' ? 'credit' : 'debit',
        amount: new Decimal(p.amount),
      })),
    },
  ]);
  await recordAudit(trx, ctx, { action: 'ledger.reversal', objectType: 'journal_entry', objectId: reversal!.id, before: { reverses: original.id }, after: reversal });
  return reversal!;
}
