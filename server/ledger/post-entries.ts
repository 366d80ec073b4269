import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
import { departmentAccountName, departmentAccounts, parseDepartmentAccountCode, type AccountKind, type Book, type Side } from './chart.ts';
import { entryHash } from './entry-hash.ts';
import { applyEntries, type AccountState, type EntryDraft } from './entry-rules.ts';
import type { EntryView } from './journal-read.ts';
import { formatAmount } from './money.ts';

const insertChunk_rows = 2000;


async function lockFund(trx: Knex.Transaction, fundId: string) {
  const fund = await trx('funds').where({ id: fundId }).forUpdate().first('id', 'head_seq', 'head_hash', 'appropriated', 'allocated');
  if (!fund) throw new AppError('NOT_FOUND', 'fund not found');
  return fund;
}

/** Creates the department sub-accounts (2307.d, 5001.d, 7101.d) named in `codes` that do not exist yet. */
async function openDepartmentAccounts(trx: Knex.Transaction, fundId: string, codes: string[]): Promise<void> {
  const wanted = codes.map((code) => ({ code, parsed: parseDepartmentAccountCode(code) }));
  const unknown = wanted.find((w) => !w.parsed);
  if (unknown) throw new AppError('UNKNOWN_ACCOUNT', `no account ${unknown.code} in this fund`, [{ field: 'account_code', message: `no account ${unknown.code}` }]);
  const departmentCodes = [...new Set(wanted.map((w) => w.parsed!.departmentCode))];
  const departments = new Map<string, { id: string; name: string }>(
    (await trx('departments').whereIn('code', departmentCodes).select('id', 'code', 'name')).map((d) => [d.code, d]),
  );
  const rows = wanted.map(({ code, parsed }) => {
    const department = departments.get(parsed!.departmentCode);
    if (!department) throw new AppError('UNKNOWN_ACCOUNT', `no department ${parsed!.departmentCode} for account ${code}`, [{ field: 'account_code', message: `no department ${parsed!.departmentCode}` }]);
    const template = departmentAccounts[parsed!.base]!;
    return {
      fund_id: fundId,
      code,
      name: departmentAccountName(parsed!.base, department.name),
      book: template.book,
      normal_side: template.normalSide,
      kind: template.kind,
      guarded: template.guarded,
      department_id: department.id,
    };
  });
  await trx('accounts').insert(rows).onConflict(['fund_id', 'code']).ignore();
}

/** Locks the accounts in id order (a fixed order, so concurrent posters cannot deadlock) and reads their balances. */
async function lockAccounts(trx: Knex.Transaction, fundId: string, codes: string[]): Promise<Map<string, AccountState>> {
  const load = () =>
    trx('accounts')
      .where({ fund_id: fundId })
      .whereIn('code', codes)
      .orderBy('id')
      .forUpdate()
      .select('id', 'code', 'name', 'book', 'normal_side', 'kind', 'guarded', 'balance');
  let rows = await load();
  if (rows.length < codes.length) {
    const found = new Set(rows.map((r) => r.code));
    await openDepartmentAccounts(trx, fundId, codes.filter((c) => !found.has(c)));
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
 * caller's transaction. The database re-checks everything this function checks. Returns the entries
 * as posted, built from what was written rather than read back, to keep the fund's lock short.
 */
export async function postEntries(trx: Knex.Transaction, fundId: string, createdBy: string, drafts: EntryDraft[]): Promise<EntryView[]> {
  if (drafts.length === 0) return [];
  const fund = await lockFund(trx, fundId);
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
      createdAt: createdAt.toISOString(),
      postings: planned[i]!.map((p) => ({ accountCode: p.accountCode, side: p.side, amount: formatAmount(p.amount) })),
    };
    const hash = entryHash(prevHash, hashable);
    const row = {
      fund_id: fundId,
      seq: hashable.seq,
      entry_date: d.date,
      kind: d.kind,
      memo: d.memo,
      document_no: hashable.documentNo,
      department_id: hashable.departmentId,
      reverses_entry_id: hashable.reversesEntryId,
      created_by: createdBy,
      created_at: createdAt,
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return row;
  });

  const idBySeq = new Map<string, string>();
  for (let i = 0; i < entryRows.length; i += insertChunk_rows) {
    const ids = await trx('journal_entries').insert(entryRows.slice(i, i + insertChunk_rows)).returning(['id', 'seq']);
    for (const r of ids) idBySeq.set(String(r.seq), String(r.id));
  }
  const posted: EntryView[] = entryRows.map((r, i) => ({
    id: idBySeq.get(r.seq)!,
    fund_id: String(fundId),
    seq: Number(r.seq),
    date: r.entry_date,
    kind: r.kind,
    memo: r.memo,
    document_no: r.document_no,
    department_id: r.department_id,
    reverses_entry_id: r.reverses_entry_id,
    reversed_by_entry_id: null,
    created_by: createdBy,
    created_at: createdAt.toISOString(),
    prev_hash: r.prev_hash,
    hash: r.hash,
    postings: planned[i]!.map((p) => {
      const account = accounts.get(p.accountCode)!;
      return { account_code: p.accountCode, account_name: account.name, book: account.book, side: p.side, amount: formatAmount(p.amount), balance_after: formatAmount(p.balanceAfter) };
    }),
  }));
  // Insert order is posting id order, which is the order the running balances were computed in.
  const postingRows = planned.flatMap((postings, i) =>
    postings.map((p) => ({
      entry_id: posted[i]!.id,
      account_id: p.accountId,
      side: p.side,
      amount: formatAmount(p.amount),
      balance_after: formatAmount(p.balanceAfter),
    })),
  );
  for (let i = 0; i < postingRows.length; i += insertChunk_rows) {
    await trx('postings').insert(postingRows.slice(i, i + insertChunk_rows));
  }
  return posted;
}
