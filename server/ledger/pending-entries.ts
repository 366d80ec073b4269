import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { pageOf } from '../db/pagination.ts';
import { pgArray } from '../db/pg-array.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { departmentAccounts, parseDepartmentAccountCode, type AccountKind, type Book, type Side } from './chart.ts';
import { checkEntryShape, checkManualCreatesNoQuota, checkReservedAccounts, type EntryDraft, type EntryKind } from './entry-rules.ts';
import { findEntry, type EntryView } from './journal-read.ts';
import { formatAmount } from './money.ts';
import { checkEntryDate } from './period-rules.ts';
import { postEntries } from './post-entries.ts';

/*
 * 制单 → 审核 → 记账. An appropriation, a manual entry (alone or in a batch) or a reversal is first
 * prepared: stored with its preparer, no seq, no hash, no balance moved. A different accountant
 * approves it, and only then does it go through postEntries — the one writer of the journal — which
 * re-checks every rule under the fund's lock. The posted entry keeps the id it was prepared under.
 */

export type PreparedKind = Extract<EntryKind, 'appropriation' | 'manual' | 'reversal'>;
export type PendingStatus = 'pending' | 'posted' | 'rejected';

interface StoredPosting {
  account_code: string;
  side: Side;
  amount: string;
}

function pendingView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    fund_id: String(r.fund_id),
    batch_id: r.batch_id == null ? null : String(r.batch_id),
    status: String(r.status) as PendingStatus,
    seq: null,
    hash: null,
    date: String(r.entry_date),
    kind: String(r.kind),
    memo: String(r.memo),
    document_no: r.document_no == null ? null : String(r.document_no),
    department_id: r.department_id == null ? null : String(r.department_id),
    reverses_entry_id: r.reverses_entry_id == null ? null : String(r.reverses_entry_id),
    created_by: String(r.created_by),
    created_by_name: r.created_by_name == null ? null : String(r.created_by_name),
    created_at: (r.created_at as Date).toISOString(),
    approved_by: null,
    decided_by: r.decided_by == null ? null : String(r.decided_by),
    decided_by_name: r.decided_by_name == null ? null : String(r.decided_by_name),
    decided_at: r.decided_at == null ? null : (r.decided_at as Date).toISOString(),
    reason: r.reason == null ? null : String(r.reason),
    postings: (r.postings as StoredPosting[]).map((p) => ({ account_code: p.account_code, side: p.side, amount: p.amount })),
  };
}

export type PendingView = ReturnType<typeof pendingView>;

function pendingQuery(db: Knex) {
  return db('pending_entries as p')
    .leftJoin('users as cu', 'cu.id', 'p.created_by')
    .leftJoin('users as du', 'du.id', 'p.decided_by')
    .select('p.*', 'cu.username as created_by_name', 'du.username as decided_by_name');
}

/** Book and kind of every account the drafts name, without opening any: a pending entry moves nothing. */
async function accountsNamed(db: Knex, fundId: string, codes: string[]): Promise<Map<string, { book: Book; kind: AccountKind; normalSide: Side }>> {
  const found = new Map<string, { book: Book; kind: AccountKind; normalSide: Side }>(
    (
      await db('accounts')
        .where({ fund_id: fundId })
        .whereRaw('code = ANY(?::text[])', [pgArray(codes)])
        .select('code', 'book', 'kind', 'normal_side')
    ).map((a) => [a.code, { book: a.book, kind: a.kind, normalSide: a.normal_side }]),
  );
  const missing = codes.filter((c) => !found.has(c));
  const departmentCodes = [...new Set(missing.map((c) => parseDepartmentAccountCode(c)?.departmentCode).filter((c): c is string => c !== undefined))];
  const departments = new Set<string>(
    departmentCodes.length
      ? await db('departments')
          .whereRaw('code = ANY(?::text[])', [pgArray(departmentCodes)])
          .pluck('code')
      : [],
  );
  for (const code of missing) {
    const parsed = parseDepartmentAccountCode(code);
    if (!parsed || !departments.has(parsed.departmentCode))
      throw new AppError('UNKNOWN_ACCOUNT', `本资金没有科目 ${code}`, [{ field: 'account_code', message: `没有科目 ${code}` }]);
    const template = departmentAccounts[parsed.base]!;
    found.set(code, { book: template.book, kind: template.kind, normalSide: template.normalSide });
  }
  return found;
}

async function fundPeriodOf(db: Knex, fundId: string) {
  const fund = await db('funds').where({ id: fundId }).first('id', 'opening_date', 'closed_through');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  return fund as { id: string; opening_date: string; closed_through: string | null };
}

/**
 * Stores drafts as pending, after every check that does not depend on balances: shape, accounts,
 * 4001/6001 reserved, dates in the fund's open period. Balances are checked when approved.
 */
export async function prepareEntries(
  trx: Knex.Transaction,
  ctx: RequestContext,
  fundId: string,
  drafts: EntryDraft[],
  asBatch: boolean,
): Promise<{ batchId: string | null; entries: PendingView[] }> {
  const fund = await fundPeriodOf(trx, fundId);
  const accounts = await accountsNamed(trx, fundId, [...new Set(drafts.flatMap((d) => d.postings.map((p) => p.accountCode)))]);
  const books = new Map([...accounts].map(([code, a]) => [code, a.book]));
  const kinds = new Map([...accounts].map(([code, a]) => [code, a.kind]));
  drafts.forEach((d, i) => {
    const where = asBatch ? `第 ${i + 1} 笔凭证` : '本凭证';
    checkEntryDate(d.date, fund, asBatch ? `entries.${i}.date` : 'date');
    checkEntryShape(d, books, where);
    checkReservedAccounts(d, kinds, where);
    checkManualCreatesNoQuota(d, accounts, where);
  });
  let batchId: string | null = null;
  if (asBatch) {
    const [batch] = await trx('journal_entry_batches').insert({ fund_id: fundId, entry_count: drafts.length, created_by: ctx.actor!.id }).returning('id');
    batchId = String(batch.id);
  }
  const rows = drafts.map((d, i) => ({
    fund_id: fundId,
    batch_id: batchId,
    position: i,
    kind: d.kind,
    entry_date: d.date,
    memo: d.memo,
    document_no: d.documentNo ?? null,
    department_id: d.departmentId ?? null,
    reverses_entry_id: d.reversesEntryId ?? null,
    postings: JSON.stringify(d.postings.map((p) => ({ account_code: p.accountCode, side: p.side, amount: formatAmount(p.amount) }))),
    created_by: ctx.actor!.id,
  }));
  const inserted = await trx('pending_entries').insert(rows).returning('*');
  const entries = inserted.map((r) => pendingView({ ...r, created_by_name: ctx.actor!.username }));
  const first = entries[0]!;
  await recordAudit(
    trx,
    ctx,
    asBatch
      ? {
          action: 'ledger.batch_prepare',
          objectType: 'journal_entry_batch',
          objectId: batchId,
          after: { fund_id: fundId, entries: entries.length, first_id: first.id },
        }
      : { action: `ledger.${first.kind}_prepare`, objectType: 'journal_entry', objectId: first.id, after: first },
  );
  return { batchId, entries };
}

async function draftOf(db: Knex, r: Record<string, unknown>): Promise<EntryDraft> {
  const reversesEntryId = r.reverses_entry_id == null ? null : String(r.reverses_entry_id);
  const reversed = reversesEntryId ? await db('journal_entries').where({ id: reversesEntryId }).first('kind') : undefined;
  return {
    id: String(r.id),
    date: String(r.entry_date),
    kind: r.kind as EntryKind,
    memo: String(r.memo),
    documentNo: r.document_no == null ? null : String(r.document_no),
    departmentId: r.department_id == null ? null : String(r.department_id),
    reversesEntryId,
    reversedKind: reversed ? (reversed.kind as EntryKind) : null,
    postings: (r.postings as StoredPosting[]).map((p) => ({ accountCode: p.account_code, side: p.side, amount: new Decimal(p.amount) })),
  };
}

function refuseDecided(status: string, what: string): void {
  if (status === 'posted') throw new AppError('ALREADY_POSTED', `${what}已审核记账`);
  if (status === 'rejected') throw new AppError('ALREADY_DECIDED', `${what}已退回，不能再审核`);
}

/** A different accountant approves one prepared entry: it is posted now, or refused with the reason and stays pending. */
export async function approveEntry(trx: Knex.Transaction, ctx: RequestContext, id: string): Promise<EntryView> {
  const row = await trx('pending_entries').where({ id }).forUpdate().first();
  if (!row) {
    // Allocations and payments are posted by their own approval; they have nothing pending here.
    if (await trx('journal_entries').where({ id }).first('id')) throw new AppError('ALREADY_POSTED', `第 ${id} 号凭证已记账`);
    throw new AppError('NOT_FOUND', '没有这张凭证');
  }
  refuseDecided(row.status, `第 ${id} 号凭证`);
  if (row.batch_id != null) throw new AppError('CONFLICT', `第 ${id} 号凭证属于批量凭证 ${row.batch_id}，须整批审核`);
  if (String(row.created_by) === ctx.actor!.id) throw new AppError('SAME_ACCOUNTANT', '制单人不能审核自己的凭证');
  await postEntries(trx, String(row.fund_id), { createdBy: String(row.created_by), approvedBy: ctx.actor!.id }, [await draftOf(trx, row)]);
  await trx('pending_entries').where({ id }).update({ status: 'posted', decided_by: ctx.actor!.id, decided_at: trx.fn.now() });
  const posted = (await findEntry(trx, id))!;
  await recordAudit(trx, ctx, {
    action: `ledger.${row.kind}_approve`,
    objectType: 'journal_entry',
    objectId: id,
    before: { status: 'pending' },
    after: posted,
  });
  return posted;
}

/** Either accountant may send a prepared entry back, with the reason. */
export async function rejectEntry(trx: Knex.Transaction, ctx: RequestContext, id: string, reason: string): Promise<PendingView> {
  const row = await trx('pending_entries').where({ id }).forUpdate().first();
  if (!row) throw new AppError('NOT_FOUND', '没有这张待审核凭证');
  refuseDecided(row.status, `第 ${id} 号凭证`);
  if (row.batch_id != null) throw new AppError('CONFLICT', `第 ${id} 号凭证属于批量凭证 ${row.batch_id}，须整批退回`);
  await trx('pending_entries').where({ id }).update({ status: 'rejected', decided_by: ctx.actor!.id, decided_at: trx.fn.now(), reason });
  const view = await getPendingEntry(trx, id);
  await recordAudit(trx, ctx, {
    action: `ledger.${row.kind}_reject`,
    objectType: 'journal_entry',
    objectId: id,
    before: { status: 'pending' },
    after: { status: 'rejected', reason },
  });
  return view;
}

async function lockBatch(trx: Knex.Transaction, id: string) {
  const batch = await trx('journal_entry_batches').where({ id }).forUpdate().first();
  if (!batch) throw new AppError('NOT_FOUND', '没有这个批量凭证');
  refuseDecided(batch.status, `批量凭证 ${id} `);
  return batch;
}

/** A batch is approved as one: every entry posts, or none does. */
export async function approveBatch(trx: Knex.Transaction, ctx: RequestContext, id: string) {
  const batch = await lockBatch(trx, id);
  if (String(batch.created_by) === ctx.actor!.id) throw new AppError('SAME_ACCOUNTANT', '制单人不能审核自己的凭证');
  const rows = await trx('pending_entries').where({ batch_id: id }).orderBy('position');
  const drafts = await Promise.all(rows.map((r) => draftOf(trx, r)));
  const posted = await postEntries(trx, String(batch.fund_id), { createdBy: String(batch.created_by), approvedBy: ctx.actor!.id }, drafts);
  const decided = { status: 'posted', decided_by: ctx.actor!.id, decided_at: trx.fn.now() };
  await trx('pending_entries').where({ batch_id: id }).update(decided);
  await trx('journal_entry_batches').where({ id }).update(decided);
  const last = posted[posted.length - 1]!;
  await recordAudit(trx, ctx, {
    action: 'ledger.batch_approve',
    objectType: 'journal_entry_batch',
    objectId: id,
    before: { status: 'pending' },
    after: { entries: posted.length, first_seq: posted[0]!.seq, last_seq: last.seq, head_hash: last.hash },
  });
  // A thousand entries echoed back in full would be megabytes; each is one GET away.
  return { id, status: 'posted', items: posted.map((e) => ({ id: e.id, seq: e.seq, date: e.date, hash: e.hash })), head_hash: last.hash };
}

export async function rejectBatch(trx: Knex.Transaction, ctx: RequestContext, id: string, reason: string) {
  await lockBatch(trx, id);
  const decided = { status: 'rejected', decided_by: ctx.actor!.id, decided_at: trx.fn.now(), reason };
  await trx('pending_entries').where({ batch_id: id }).update(decided);
  await trx('journal_entry_batches').where({ id }).update(decided);
  await recordAudit(trx, ctx, {
    action: 'ledger.batch_reject',
    objectType: 'journal_entry_batch',
    objectId: id,
    before: { status: 'pending' },
    after: { status: 'rejected', reason },
  });
  return getBatch(trx, id);
}

export async function getBatch(db: Knex, id: string) {
  const b = await db('journal_entry_batches as b')
    .leftJoin('users as u', 'u.id', 'b.created_by')
    .where('b.id', id)
    .first('b.*', 'u.username as created_by_name');
  if (!b) throw new AppError('NOT_FOUND', '没有这个批量凭证');
  return {
    id: String(b.id),
    fund_id: String(b.fund_id),
    status: String(b.status),
    count: Number(b.entry_count),
    created_by: String(b.created_by),
    created_by_name: b.created_by_name ?? null,
    created_at: (b.created_at as Date).toISOString(),
    decided_by: b.decided_by == null ? null : String(b.decided_by),
    reason: b.reason ?? null,
  };
}

export async function getPendingEntry(db: Knex, id: string): Promise<PendingView> {
  const row = await pendingQuery(db).where('p.id', id).first();
  if (!row) throw new AppError('NOT_FOUND', '没有这张凭证');
  return pendingView(row);
}

/** An entry by id, posted or not: the journal first, then what waits or was sent back. */
export async function getAnyEntry(db: Knex, id: string): Promise<EntryView | PendingView> {
  return (await findEntry(db, id)) ?? getPendingEntry(db, id);
}

/** Prepared entries of a fund by status, oldest first (the order they wait in); the cursor is the last id seen. */
export async function listPendingEntries(
  db: Knex,
  fundId: string,
  f: { status: PendingStatus; limit: number; cursor?: string | undefined; exceptCreatedBy?: string | undefined },
) {
  await fundPeriodOf(db, fundId);
  const q = pendingQuery(db)
    .where('p.fund_id', fundId)
    .where('p.status', f.status)
    .orderBy('p.id')
    .limit(f.limit + 1);
  if (f.cursor) q.where('p.id', '>', f.cursor);
  if (f.exceptCreatedBy) q.whereNot('p.created_by', f.exceptCreatedBy);
  const page = pageOf(await q, f.limit, (r) => r.id as string);
  return { items: page.items.map(pendingView), next_cursor: page.next_cursor };
}
