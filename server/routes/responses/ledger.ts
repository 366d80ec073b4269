import { z } from 'zod';
import { problemKinds } from '../../ledger/verify/ledger-checker.ts';
import { dateOut, idOut, list, moneyOut, page, timestamp } from './common.ts';

const book = z.enum(['financial', 'budget']);
const side = z.enum(['debit', 'credit']);

export const fund = z.object({
  id: idOut,
  code: z.string(),
  name: z.string(),
  fiscal_year: z.number().int(),
  document_no: z.string(),
  opening_date: dateOut,
  closed_through: dateOut.nullable(),
  currency: z.string(),
  appropriated: moneyOut,
  allocated: moneyOut,
  disbursed: moneyOut,
  available_to_allocate: moneyOut,
  cash_balance: moneyOut,
  entries: z.number().int(),
  head_hash: z.string(),
  created_at: timestamp,
});
export const fundPage = page(fund);

export const account = z.object({
  id: idOut,
  code: z.string(),
  name: z.string(),
  book: z.string(),
  normal_side: z.string(),
  balance: moneyOut,
  department_id: idOut.nullable(),
  postings: z.number().int(),
});
export const accountList = z.array(account);

/** A posted journal entry: numbered (seq) and chained (prev_hash → hash). */
export const postedEntry = z.object({
  id: idOut,
  fund_id: idOut,
  seq: z.number().int(),
  /** 凭证字号: assigned by the database per fund and year of the entry date (记-0001). */
  voucher_year: z.number().int(),
  voucher_number: z.number().int(),
  voucher_no: z.string(),
  date: dateOut,
  kind: z.string(),
  memo: z.string(),
  document_no: z.string().nullable(),
  department_id: idOut.nullable(),
  reverses_entry_id: idOut.nullable(),
  reversed_by_entry_id: idOut.nullable(),
  status: z.literal('posted'),
  created_by: idOut,
  created_by_name: z.string().nullable(),
  approved_by: idOut.nullable(),
  approved_by_name: z.string().nullable(),
  created_at: timestamp,
  prev_hash: z.string(),
  hash: z.string(),
  postings: z.array(
    z.object({ account_code: z.string(), account_name: z.string(), book: z.string(), side: z.string(), amount: moneyOut, balance_after: moneyOut }),
  ),
});

/** A prepared entry (制单) waiting for another accountant, or what became of it. */
export const pendingEntry = z.object({
  id: idOut,
  fund_id: idOut,
  batch_id: idOut.nullable(),
  status: z.enum(['pending', 'posted', 'rejected']),
  seq: z.null(),
  hash: z.null(),
  date: dateOut,
  kind: z.string(),
  memo: z.string(),
  document_no: z.string().nullable(),
  department_id: idOut.nullable(),
  reverses_entry_id: idOut.nullable(),
  created_by: idOut,
  created_by_name: z.string().nullable(),
  created_at: timestamp,
  approved_by: z.null(),
  decided_by: idOut.nullable(),
  decided_by_name: z.string().nullable(),
  decided_at: timestamp.nullable(),
  reason: z.string().nullable(),
  postings: z.array(z.object({ account_code: z.string(), side, amount: moneyOut })),
});

/** An entry by number: posted, or prepared and waiting (or sent back). */
export const entry = z.union([postedEntry, pendingEntry]);
export const pendingEntryPage = page(pendingEntry);

export const batchPrepared = z.object({ id: idOut, fund_id: idOut, status: z.literal('pending'), count: z.number().int(), entry_ids: z.array(idOut) });
export const batchPosted = z.object({
  id: z.string(),
  status: z.literal('posted'),
  items: z.array(z.object({ id: idOut, seq: z.number().int(), date: dateOut, hash: z.string() })),
  head_hash: z.string(),
});
export const batch = z.object({
  id: idOut,
  fund_id: idOut,
  status: z.string(),
  count: z.number().int(),
  created_by: idOut,
  created_by_name: z.string().nullable(),
  created_at: timestamp,
  decided_by: idOut.nullable(),
  reason: z.string().nullable(),
});

export const journalPage = page(postedEntry).extend({
  filter: z.object({ account: z.string().nullable(), department_ids: z.array(idOut).nullable(), description: z.string() }),
});

export const accountLedgerPage = page(
  z.object({
    posting_id: idOut,
    entry_id: idOut,
    seq: z.number().int(),
    date: dateOut,
    kind: z.string(),
    memo: z.string(),
    side: z.string(),
    amount: moneyOut,
    balance_after: moneyOut,
  }),
).extend({ account: z.object({ code: z.string(), name: z.string(), book: z.string(), normal_side: z.string(), balance: moneyOut }) });

const bookTotals = z.object({ debit: moneyOut, credit: moneyOut, balanced: z.boolean() });
export const trialBalanceReport = z.object({
  as_of: dateOut.nullable(),
  books: z.object({ financial: bookTotals, budget: bookTotals }),
  accounts: z.array(z.object({ code: z.string(), name: z.string(), book, normal_side: side, debit: moneyOut, credit: moneyOut })),
});

export const verifyReport = z.object({
  ok: z.boolean(),
  entries: z.number().int(),
  head_hash: z.string(),
  first_bad_seq: z.number().int().nullable(),
  problems: z.array(
    z.object({
      kind: z.enum(problemKinds),
      seq: z.number().int().optional(),
      account: z.string().optional(),
      day: dateOut.optional(),
      detail: z.string(),
    }),
  ),
  mode: z.enum(['full', 'incremental']),
  checkpoint: z.object({ id: idOut, seq: z.number().int(), hash: z.string(), mode: z.enum(['full', 'incremental']), verified_at: timestamp }).nullable(),
  entries_checked: z.number().int(),
});

export const periodClose = z.object({
  id: idOut,
  fund_id: idOut,
  kind: z.enum(['close', 'reopen']),
  through: dateOut,
  reason: z.string(),
  status: z.enum(['pending', 'approved', 'rejected']),
  created_by: idOut,
  created_by_name: z.string().nullable(),
  created_at: timestamp,
  approved_by: idOut.nullable(),
  decided_by: idOut.nullable(),
  decided_by_name: z.string().nullable(),
  decided_at: timestamp.nullable(),
  reject_reason: z.string().nullable(),
  previous_through: dateOut.nullable(),
  closed_through: dateOut.optional(),
  certificate_no: z.string().nullable(),
});
export const periodCloseList = list(periodClose);

/** A balance as the books print it: 借/贷/平 and the amount without sign. */
const directedBalance = z.object({ direction: z.enum(['借', '贷', '平']), amount: moneyOut });
const period = z.object({ from: dateOut, to: dateOut });

export const generalLedgerReport = z.object({
  book,
  period,
  accounts: z.array(
    z.object({ code: z.string(), name: z.string(), normal_side: side, opening: directedBalance, debit: moneyOut, credit: moneyOut, closing: directedBalance }),
  ),
  debit_total: moneyOut,
  credit_total: moneyOut,
});

export const detailLedgerPage = page(
  z.object({
    posting_id: idOut,
    entry_id: idOut,
    date: dateOut,
    voucher_no: z.string(),
    kind: z.string(),
    memo: z.string(),
    account_code: z.string(),
    account_name: z.string(),
    debit: moneyOut.nullable(),
    credit: moneyOut.nullable(),
    direction: z.enum(['借', '贷', '平']),
    balance: moneyOut,
  }),
).extend({
  account: z.object({ code: z.string(), name: z.string(), book: z.string(), normal_side: side, sub_accounts: z.number().int() }),
  period,
  opening: directedBalance,
  debit_total: moneyOut,
  credit_total: moneyOut,
  closing: directedBalance,
});
