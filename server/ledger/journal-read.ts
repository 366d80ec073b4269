import type { Knex } from 'knex';
import { AppError, validationError } from '../errors.ts';
import { pageOf } from '../db/pagination.ts';

export interface JournalFilter {
  limit: number;
  cursor?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  kind?: string | undefined;
  account?: string | undefined;
  department_id?: string | undefined;
  /** Entries of any of these units (a unit found by name may be several). */
  department_ids?: string[] | undefined;
  /** `account` is a parent code (2307): every 2307.* account counts. */
  account_is_parent?: boolean | undefined;
  /** The fund's account ids `account` names (resolveJournalFilter): the fast form of the account filter. */
  account_ids?: string[] | undefined;
  /** `number`: oldest first by 凭证字号 (year, number), the cursor an entry id; default newest first by seq. */
  order?: 'seq' | 'number' | undefined;
}

/** 凭证字号 as accountants write it: 记-0001 (one 记账凭证 series per fund and year). */
export const voucherNo = (number: number) => `记-${String(number).padStart(4, '0')}`;

function entryView(e: Record<string, unknown>, postings: Record<string, unknown>[]) {
  return {
    id: String(e.id),
    fund_id: String(e.fund_id),
    seq: Number(e.seq),
    voucher_year: Number(e.voucher_year),
    voucher_number: Number(e.voucher_number),
    voucher_no: voucherNo(Number(e.voucher_number)),
    date: String(e.entry_date),
    kind: String(e.kind),
    memo: String(e.memo),
    document_no: e.document_no == null ? null : String(e.document_no),
    department_id: e.department_id == null ? null : String(e.department_id),
    reverses_entry_id: e.reverses_entry_id == null ? null : String(e.reverses_entry_id),
    reversed_by_entry_id: e.reversed_by_entry_id == null ? null : String(e.reversed_by_entry_id),
    status: 'posted' as const,
    created_by: String(e.created_by),
    created_by_name: e.created_by_name == null ? null : String(e.created_by_name),
    approved_by: e.approved_by == null ? null : String(e.approved_by),
    approved_by_name: e.approved_by_name == null ? null : String(e.approved_by_name),
    created_at: (e.created_at as Date).toISOString(),
    prev_hash: String(e.prev_hash),
    hash: String(e.hash),
    postings: postings.map((p) => ({
      account_code: String(p.code),
      account_name: String(p.name),
      book: String(p.book),
      side: String(p.side),
      amount: String(p.amount),
      balance_after: String(p.balance_after),
    })),
  };
}

export type EntryView = ReturnType<typeof entryView>;

function entriesQuery(db: Knex) {
  return db('journal_entries as e')
    .leftJoin('journal_entries as r', 'r.reverses_entry_id', 'e.id')
    .leftJoin('users as cu', 'cu.id', 'e.created_by')
    .leftJoin('users as au', 'au.id', 'e.approved_by')
    .join('voucher_numbers as vn', 'vn.entry_id', 'e.id')
    .select(
      'e.*',
      'r.id as reversed_by_entry_id',
      'cu.username as created_by_name',
      'au.username as approved_by_name',
      'vn.voucher_year',
      'vn.number as voucher_number',
    );
}

async function withPostings(db: Knex, entries: Record<string, unknown>[]): Promise<EntryView[]> {
  if (entries.length === 0) return [];
  const postings = await db('postings as p')
    .join('accounts as a', 'a.id', 'p.account_id')
    .whereIn(
      'p.entry_id',
      entries.map((e) => e.id as string),
    )
    .orderBy('p.id')
    .select('p.entry_id', 'p.side', 'p.amount', 'p.balance_after', 'a.code', 'a.name', 'a.book');
  const byEntry = new Map<string, Record<string, unknown>[]>();
  for (const p of postings) {
    const list = byEntry.get(String(p.entry_id)) ?? [];
    list.push(p);
    byEntry.set(String(p.entry_id), list);
  }
  return entries.map((e) => entryView(e, byEntry.get(String(e.id)) ?? []));
}

export async function findEntry(db: Knex, id: string): Promise<EntryView | undefined> {
  const [entry] = await withPostings(db, await entriesQuery(db).where('e.id', id));
  return entry;
}

export async function getEntry(db: Knex, id: string): Promise<EntryView> {
  const entry = await findEntry(db, id);
  if (!entry) throw new AppError('NOT_FOUND', '没有这张凭证');
  return entry;
}

/**
 * In the order of a 序时账, newest first: by entry date, then by sequence number (a back-dated entry
 * stands among the entries of its date). The cursor is the sequence number of the last entry shown;
 * the next page starts after its (date, seq). Every filter is served by an index walked in that
 * order — (fund, entry_date, seq), (fund, kind, entry_date, seq), (fund, department, seq) — and an
 * account filter is a probe of the entry's postings by the fund's account ids, never a join by code.
 * With `order: 'number'`, oldest first by 凭证字号 (year, number), the cursor the last entry id seen.
 */
export async function listJournal(db: Knex, fundId: string, f: JournalFilter) {
  const byNumber = f.order === 'number';
  const q = entriesQuery(db)
    .where('e.fund_id', fundId)
    .limit(f.limit + 1);
  if (byNumber) {
    q.orderBy([{ column: 'vn.voucher_year' }, { column: 'vn.number' }]);
    if (f.cursor) {
      const at = await db('voucher_numbers').where({ fund_id: fundId, entry_id: f.cursor }).first('voucher_year', 'number');
      if (!at) throw validationError('cursor', '不是本列表的游标');
      q.whereRaw('(vn.voucher_year, vn.number) > (?::int, ?::int)', [at.voucher_year, at.number]);
    }
  } else {
    q.orderBy([
      { column: 'e.entry_date', order: 'desc' },
      { column: 'e.seq', order: 'desc' },
    ]);
    if (f.cursor) {
      const at = await db('journal_entries').where({ fund_id: fundId, seq: f.cursor }).first('entry_date');
      if (!at) throw validationError('cursor', '不是本列表的游标');
      q.whereRaw('(e.entry_date, e.seq) < (?::date, ?::bigint)', [at.entry_date, f.cursor]);
    }
  }
  if (f.from) q.where('e.entry_date', '>=', f.from);
  if (f.to) q.where('e.entry_date', '<=', f.to);
  if (f.kind) q.where('e.kind', f.kind);
  if (f.department_id) q.where('e.department_id', f.department_id);
  if (f.department_ids) q.whereIn('e.department_id', f.department_ids);
  if (f.account_ids && f.account_is_parent) {
    // A parent (2307 and its 5,000 unit accounts) is on most entries: each entry of the date walk is
    // probed by its own postings (OFFSET 0 keeps the EXISTS a per-entry probe). As a semi-join the
    // planner read every posting of every unit account first (1.1 M at 10 M postings: ~100 ms a page).
    q.whereRaw('EXISTS (SELECT 1 FROM postings p WHERE p.entry_id = e.id AND p.account_id = ANY (?::bigint[]) OFFSET 0)', [f.account_ids]);
  } else if (f.account_ids) {
    // One account may be on few entries: the planner chooses, by the account's postings or by the entries.
    q.whereExists(db('postings as p').whereRaw('p.entry_id = e.id').whereRaw('p.account_id = ANY (?::bigint[])', [f.account_ids]));
  } else if (f.account) {
    const code = f.account;
    q.whereExists(
      db('postings as p')
        .join('accounts as a', 'a.id', 'p.account_id')
        .whereRaw('p.entry_id = e.id')
        .where('a.fund_id', fundId)
        .where((w) => (f.account_is_parent ? w.where('a.code', code).orWhere('a.code', 'like', `${code}.%`) : w.where('a.code', code))),
    );
  }
  const rows = await q;
  const page = pageOf(rows, f.limit, (e) => (byNumber ? (e.id as string) : (e.seq as string)));
  return { items: await withPostings(db, page.items), next_cursor: page.next_cursor };
}

/** An account's postings with their running balance, newest first. */
export async function listAccountLedger(db: Knex, fundId: string, code: string, limit: number, cursor?: string) {
  const account = await db('accounts').where({ fund_id: fundId, code }).first('id', 'code', 'name', 'book', 'normal_side', 'balance');
  if (!account) throw new AppError('NOT_FOUND', `本资金没有科目 ${code}`);
  const q = db('postings as p')
    .join('journal_entries as e', 'e.id', 'p.entry_id')
    .where('p.account_id', account.id)
    .orderBy('p.id', 'desc')
    .limit(limit + 1)
    .select('p.id', 'p.side', 'p.amount', 'p.balance_after', 'e.id as entry_id', 'e.seq', 'e.entry_date', 'e.kind', 'e.memo');
  if (cursor) q.where('p.id', '<', cursor);
  const page = pageOf(await q, limit, (r) => r.id as string);
  const items = page.items.map((r) => ({
    posting_id: String(r.id),
    entry_id: String(r.entry_id),
    seq: Number(r.seq),
    date: String(r.entry_date),
    kind: String(r.kind),
    memo: String(r.memo),
    side: String(r.side),
    amount: String(r.amount),
    balance_after: String(r.balance_after),
  }));
  return {
    account: { code: account.code, name: account.name, book: account.book, normal_side: account.normal_side, balance: account.balance },
    items,
    next_cursor: page.next_cursor,
  };
}
