import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { pgArray } from '../db/pg-array.ts';
import { AppError } from '../errors.ts';
import { departmentAccountName, departmentAccounts, parseDepartmentAccountCode, type AccountKind, type Book, type Side } from './chart.ts';
import { entryHash } from './entry-hash.ts';
import { applyEntries, type AccountState, type EntryDraft } from './entry-rules.ts';
import { checkEntryDate } from './period-rules.ts';
import { voucherNo, type EntryView } from './journal-read.ts';
import { formatAmount } from './money.ts';
import { postInOneCall } from './post-in-one-call.ts';

async function lockFund(trx: Knex.Transaction, fundId: string) {
  const fund = await trx('funds')
    .where({ id: fundId })
    .forUpdate()
    .first('id', 'head_seq', 'head_hash', 'appropriated', 'allocated', 'opening_date', 'closed_through');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  return fund;
}

/** The two people of an entry (invariant 8): who prepared it (制单) and the other accountant who approved it (审核). */
export interface EntryPeople {
  createdBy: string;
  approvedBy: string;
}

/** Creates the department sub-accounts (2307.d, 5001.d, 7101.d) named in `codes` that do not exist yet. */
async function openDepartmentAccounts(trx: Knex.Transaction, fundId: string, codes: string[]): Promise<void> {
  const wanted = codes.map((code) => ({ code, parsed: parseDepartmentAccountCode(code) }));
  const unknown = wanted.find((w) => !w.parsed);
  if (unknown) throw new AppError('UNKNOWN_ACCOUNT', `本资金没有科目 ${unknown.code}`, [{ field: 'account_code', message: `没有科目 ${unknown.code}` }]);
  const departmentCodes = [...new Set(wanted.map((w) => w.parsed!.departmentCode))];
  const departments = new Map<string, { id: string; name: string }>(
    (
      await trx('departments')
        .whereRaw('code = ANY(?::text[])', [pgArray(departmentCodes)])
        .select('id', 'code', 'name')
    ).map((d) => [d.code, d]),
  );
  const rows = wanted.map(({ code, parsed }) => {
    const department = departments.get(parsed!.departmentCode);
    if (!department)
      throw new AppError('UNKNOWN_ACCOUNT', `科目 ${code} 对应的单位 ${parsed!.departmentCode} 不存在`, [
        { field: 'account_code', message: `单位 ${parsed!.departmentCode} 不存在` },
      ]);
    const template = departmentAccounts[parsed!.base]!;
    return {
      code,
      name: departmentAccountName(parsed!.base, department.name),
      book: template.book,
      normal_side: template.normalSide,
      kind: template.kind,
      guarded: template.guarded,
      department_id: department.id,
    };
  });
  const col = (k: keyof (typeof rows)[number]) => pgArray(rows.map((r) => r[k]));
  await trx.raw(
    `INSERT INTO accounts (fund_id, code, name, book, normal_side, kind, guarded, department_id)
     SELECT ?, * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::boolean[], ?::bigint[])
     ON CONFLICT (fund_id, code) DO NOTHING`,
    [fundId, col('code'), col('name'), col('book'), col('normal_side'), col('kind'), col('guarded'), col('department_id')],
  );
}

/** Locks the accounts in id order (a fixed order, so concurrent posters cannot deadlock) and reads their balances. */
async function lockAccounts(trx: Knex.Transaction, fundId: string, codes: string[]): Promise<Map<string, AccountState>> {
  const load = () =>
    trx('accounts')
      .where({ fund_id: fundId })
      .whereRaw('code = ANY(?::text[])', [pgArray(codes)])
      .orderBy('id')
      .forUpdate()
      .select('id', 'code', 'name', 'book', 'normal_side', 'kind', 'guarded', 'balance');
  let rows = await load();
  if (rows.length < codes.length) {
    const found = new Set(rows.map((r) => r.code));
    await openDepartmentAccounts(
      trx,
      fundId,
      codes.filter((c) => !found.has(c)),
    );
    rows = await load();
  }
  return new Map(
    rows.map((r) => [
      r.code,
      {
        id: String(r.id),
        code: r.code,
        name: r.name,
        book: r.book as Book,
        normalSide: r.normal_side as Side,
        kind: r.kind as AccountKind,
        guarded: r.guarded,
        balance: new Decimal(r.balance),
      },
    ]),
  );
}

/**
 * The one function that writes journal entries and postings. Every money movement — appropriation,
 * manual entry, allocation, disbursement, clawback, refund, reversal — goes through here, inside the
 * caller's transaction. The database re-checks everything this function checks. First in one call
 * (post-in-one-call.ts); what that call refuses is posted or refused here, step by step, with the
 * rule's explanation. Returns the entries as posted.
 */
export async function postEntries(trx: Knex.Transaction, fundId: string, people: EntryPeople, drafts: EntryDraft[]): Promise<EntryView[]> {
  if (drafts.length === 0) return [];
  if (people.createdBy === people.approvedBy) throw new AppError('SAME_ACCOUNTANT', '制单人不能审核自己的凭证');
  return (await postInOneCall(trx, fundId, people, drafts)) ?? (await postExplained(trx, fundId, people, drafts));
}

/** Posts step by step (lock, check in TypeScript, write): each refusal carries the domain's explanation. */
async function postExplained(trx: Knex.Transaction, fundId: string, people: EntryPeople, drafts: EntryDraft[]): Promise<EntryView[]> {
  const { createdBy, approvedBy } = people;
  const fund = await lockFund(trx, fundId);
  drafts.forEach((d, i) => checkEntryDate(d.date, fund, drafts.length > 1 ? `entries.${i}.date` : 'date'));
  const codes = [...new Set(drafts.flatMap((d) => d.postings.map((p) => p.accountCode)))];
  const accounts = await lockAccounts(trx, fundId, codes);
  const planned = applyEntries(drafts, accounts, { appropriated: new Decimal(fund.appropriated), allocated: new Decimal(fund.allocated) });

  const createdAt = new Date();
  let seq = BigInt(fund.head_seq);
  let prevHash: string = fund.head_hash;
  const entryRows = drafts.map((d, i) => {
    seq += 1n;
    const hashable = {
      fundId: String(fundId),
      seq: seq.toString(),
      date: d.date,
      kind: d.kind,
      memo: d.memo,
      documentNo: d.documentNo ?? null,
      departmentId: d.departmentId ?? null,
      reversesEntryId: d.reversesEntryId ?? null,
      createdBy,
      approvedBy,
      createdAt: createdAt.toISOString(),
      postings: planned[i]!.map((p) => ({ accountCode: p.accountCode, side: p.side, amount: formatAmount(p.amount) })),
    };
    const hash = entryHash(prevHash, hashable);
    const row = {
      id: d.id ?? null,
      seq: hashable.seq,
      entry_date: d.date,
      kind: d.kind,
      memo: d.memo,
      document_no: hashable.documentNo,
      department_id: hashable.departmentId,
      reverses_entry_id: hashable.reversesEntryId,
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return row;
  });

  // One statement writes the entries and their postings, a few array parameters however large the
  // batch: the fund stays locked for one round trip, not two. Postings go in in the order their
  // running balances were computed, so posting ids follow it.
  const col = (k: keyof (typeof entryRows)[number]) => pgArray(entryRows.map((r) => r[k] as string | null));
  const postings = planned.flatMap((list, i) => list.map((p) => ({ seq: entryRows[i]!.seq, ...p })));
  const inserted = await trx.raw(
    `WITH e AS (
       INSERT INTO journal_entries (id, fund_id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id, created_by, approved_by, created_at, prev_hash, hash)
       SELECT coalesce(e.id, nextval('journal_entries_id_seq')), ?, e.seq, e.entry_date, e.kind, e.memo, e.document_no, e.department_id, e.reverses_entry_id, ?, ?, ?, e.prev_hash, e.hash
         FROM unnest(?::bigint[], ?::bigint[], ?::date[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[])
              AS e(id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id, prev_hash, hash)
        ORDER BY e.seq
       RETURNING id, seq
     ), p AS (
       INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
       SELECT e.id, p.account_id, p.side, p.amount, p.balance_after
         FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::numeric[], ?::numeric[]) WITH ORDINALITY
              AS p(seq, account_id, side, amount, balance_after, n)
         JOIN e ON e.seq = p.seq
        ORDER BY p.n
     )
     SELECT id, seq FROM e`,
    [
      fundId,
      createdBy,
      approvedBy,
      createdAt,
      col('id'),
      col('seq'),
      col('entry_date'),
      col('kind'),
      col('memo'),
      col('document_no'),
      col('department_id'),
      col('reverses_entry_id'),
      col('prev_hash'),
      col('hash'),
      pgArray(postings.map((p) => p.seq)),
      pgArray(postings.map((p) => p.accountId)),
      pgArray(postings.map((p) => p.side)),
      pgArray(postings.map((p) => formatAmount(p.amount))),
      pgArray(postings.map((p) => formatAmount(p.balanceAfter))),
    ],
  );
  const idBySeq = new Map<string, string>(inserted.rows.map((r: { id: string; seq: string }) => [String(r.seq), String(r.id)]));
  // The database numbered the vouchers (015): read back what it assigned.
  const numbers = new Map<string, { voucher_year: number; number: number }>(
    (
      await trx('voucher_numbers')
        .whereRaw('entry_id = ANY(?::bigint[])', [pgArray([...idBySeq.values()])])
        .select('entry_id', 'voucher_year', 'number')
    ).map((v) => [String(v.entry_id), { voucher_year: Number(v.voucher_year), number: Number(v.number) }]),
  );
  const posted: EntryView[] = entryRows.map((r, i) => ({
    id: idBySeq.get(r.seq)!,
    fund_id: String(fundId),
    seq: Number(r.seq),
    voucher_year: numbers.get(idBySeq.get(r.seq)!)!.voucher_year,
    voucher_number: numbers.get(idBySeq.get(r.seq)!)!.number,
    voucher_no: voucherNo(numbers.get(idBySeq.get(r.seq)!)!.number),
    date: r.entry_date,
    kind: r.kind,
    memo: r.memo,
    document_no: r.document_no,
    department_id: r.department_id,
    reverses_entry_id: r.reverses_entry_id,
    reversed_by_entry_id: null,
    status: 'posted',
    created_by: createdBy,
    created_by_name: null,
    approved_by: approvedBy,
    approved_by_name: null,
    created_at: createdAt.toISOString(),
    prev_hash: r.prev_hash,
    hash: r.hash,
    postings: planned[i]!.map((p) => {
      const account = accounts.get(p.accountCode)!;
      return {
        account_code: p.accountCode,
        account_name: account.name,
        book: account.book,
        side: p.side,
        amount: formatAmount(p.amount),
        balance_after: formatAmount(p.balanceAfter),
      };
    }),
  }));
  return posted;
}
