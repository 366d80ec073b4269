import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { renderCloseCertificate, type CloseCertificateModel } from '../../reports/close-certificate.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { dateInShanghai } from '../http/schemas.ts';
import { recordDownload, recordStatement } from '../statements/statements.ts';
import { trialBalance } from './trial-balance.ts';

/*
 * Closing (结账) and reopening (反结账). One accountant prepares a close of a fund through a date;
 * another approves it; the approval issues the numbered certificate and moves funds.closed_through
 * (a trigger, the only writer of that column). From then on the database refuses any entry dated on
 * or before it. A reopen back to an earlier date takes a reason and its own approver.
 */

function closeView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    fund_id: String(r.fund_id),
    kind: String(r.kind),
    through: String(r.through),
    reason: String(r.reason),
    status: String(r.status),
    created_by: String(r.created_by),
    created_by_name: r.created_by_name == null ? null : String(r.created_by_name),
    created_at: (r.created_at as Date).toISOString(),
    approved_by: r.status === 'approved' ? String(r.decided_by) : null,
    decided_by: r.decided_by == null ? null : String(r.decided_by),
    decided_by_name: r.decided_by_name == null ? null : String(r.decided_by_name),
    decided_at: r.decided_at == null ? null : (r.decided_at as Date).toISOString(),
    reject_reason: r.reject_reason == null ? null : String(r.reject_reason),
    previous_through: r.previous_through == null ? null : String(r.previous_through),
    closed_through: r.status === 'approved' && r.kind === 'close' ? String(r.through) : undefined,
    certificate_no: r.certificate_no == null ? null : String(r.certificate_no),
  };
}

export type PeriodCloseView = ReturnType<typeof closeView>;

function closesQuery(db: Knex) {
  return db('period_closes as c')
    .leftJoin('users as cu', 'cu.id', 'c.created_by')
    .leftJoin('users as du', 'du.id', 'c.decided_by')
    .leftJoin('statements as s', 's.id', 'c.certificate_id')
    .select('c.*', 'cu.username as created_by_name', 'du.username as decided_by_name', 's.statement_no as certificate_no');
}

export async function getPeriodClose(db: Knex, id: string): Promise<PeriodCloseView> {
  const row = await closesQuery(db).where('c.id', id).first();
  if (!row) throw new AppError('NOT_FOUND', '没有这次结账');
  return closeView(row);
}

export async function listPeriodCloses(db: Knex, fundId: string) {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  return { items: (await closesQuery(db).where('c.fund_id', fundId).orderBy('c.id', 'desc')).map(closeView) };
}

/** Entries and payments prepared but not decided, dated inside the period a close would shut. */
async function refuseWaitingInside(db: Knex, fundId: string, through: string): Promise<void> {
  const entries = await db('pending_entries')
    .where({ fund_id: fundId, status: 'pending' })
    .where('entry_date', '<=', through)
    .orderBy('id')
    .limit(20)
    .pluck('id');
  const payments = await db('disbursements')
    .where({ fund_id: fundId, status: 'pending' })
    .where('pay_date', '<=', through)
    .orderBy('id')
    .limit(20)
    .pluck('voucher_no');
  if (entries.length || payments.length) {
    const named = [...entries.map((id) => `凭证 ${id}`), ...payments.map((v) => `拨付 ${v}`)].join('、');
    throw new AppError('PENDING_IN_PERIOD', `${through} 及以前仍有待审核的单据：${named}；请先审核或退回`);
  }
}

/** Prepares a close through a later date, or a reopen back to an earlier one (which needs a reason). */
export async function preparePeriodClose(trx: Knex.Transaction, ctx: RequestContext, fundId: string, input: { through: string; reason?: string | undefined }) {
  const fund = await trx('funds').where({ id: fundId }).first('id', 'opening_date', 'closed_through');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  const current: string | null = fund.closed_through;
  const reason = input.reason?.trim() ?? '';
  if (current !== null && input.through === current) throw new AppError('CONFLICT', `本资金已结账至 ${current}`);
  const kind = current !== null && input.through < current ? 'reopen' : 'close';
  if (kind === 'close' && input.through < fund.opening_date) throw validationError('through', `不能早于本资金启用日 ${fund.opening_date}`);
  if (kind === 'reopen' && !reason) throw validationError('reason', `反结账（从 ${current} 退回到 ${input.through}）须说明原因`);
  if (await trx('period_closes').where({ fund_id: fundId, status: 'pending' }).first('id')) {
    throw new AppError('CONFLICT', '本资金已有待审核的结账或反结账，请先审核或退回');
  }
  if (kind === 'close') await refuseWaitingInside(trx, fundId, input.through);
  const [row] = await trx('period_closes').insert({ fund_id: fundId, kind, through: input.through, reason, created_by: ctx.actor!.id }).returning('id');
  const view = await getPeriodClose(trx, String(row.id));
  await recordAudit(trx, ctx, { action: `period.${kind}_prepare`, objectType: 'period_close', objectId: view.id, after: view });
  return view;
}

async function certificateModel(
  trx: Knex.Transaction,
  close: Record<string, unknown>,
  approverName: string,
  previousThrough: string | null,
): Promise<CloseCertificateModel> {
  const fundId = String(close.fund_id);
  const through = String(close.through);
  const fund = await trx('funds').where({ id: fundId }).first('code', 'name', 'document_no', 'head_seq', 'head_hash');
  const balance = await trialBalance(trx, fundId, through);
  const counted = await trx('journal_entries').where({ fund_id: fundId }).where('entry_date', '<=', through).first(trx.raw('count(*) AS n'));
  const preparer = await trx('users').where({ id: close.created_by }).first('username');
  const reopens = await closesQuery(trx).where({ 'c.fund_id': fundId, 'c.kind': 'reopen', 'c.status': 'approved' }).orderBy('c.id');
  return {
    kind: close.kind as 'close' | 'reopen',
    fund: { code: fund.code, name: fund.name, document_no: fund.document_no },
    closeId: String(close.id),
    through,
    previousThrough,
    reason: String(close.reason),
    preparedBy: preparer.username,
    approvedBy: approverName,
    entriesInPeriod: Number(counted.n),
    head: { seq: Number(fund.head_seq), hash: String(fund.head_hash) },
    books: balance.books,
    accounts: balance.accounts.map((a) => ({ code: a.code, name: a.name, book: a.book, debit: a.debit, credit: a.credit })),
    reopens: reopens.map((r) => ({
      through: String(r.through),
      previousThrough: r.previous_through == null ? null : String(r.previous_through),
      reason: String(r.reason),
      preparedBy: String(r.created_by_name),
      approvedBy: String(r.decided_by_name),
      decidedOn: dateInShanghai(r.decided_at as Date),
    })),
  };
}

/**
 * Another accountant approves: under the fund's lock, nothing may wait inside the period, the
 * certificate is issued as a statement, and the close takes effect (the trigger moves closed_through).
 */
export async function approvePeriodClose(trx: Knex.Transaction, ctx: RequestContext, id: string, witnessFile: string) {
  const close = await trx('period_closes').where({ id }).forUpdate().first();
  if (!close) throw new AppError('NOT_FOUND', '没有这次结账');
  if (close.status !== 'pending')
    throw new AppError('ALREADY_DECIDED', `这次${close.kind === 'close' ? '结账' : '反结账'}已${close.status === 'approved' ? '审核' : '退回'}`);
  if (String(close.created_by) === ctx.actor!.id) throw new AppError('SAME_ACCOUNTANT', '提交结账的会计不能审核该结账');
  const fund = await trx('funds').where({ id: close.fund_id }).forUpdate().first('id', 'code', 'closed_through');
  const current: string | null = fund.closed_through;
  const through = String(close.through);
  if (close.kind === 'close' && current !== null && through <= current) throw new AppError('CONFLICT', `本资金已结账至 ${current}，不能再结账至 ${through}`);
  if (close.kind === 'reopen' && (current === null || through >= current))
    throw new AppError('CONFLICT', `本资金结账日已变为 ${current ?? '未结账'}，不能反结账至 ${through}`);
  if (close.kind === 'close') await refuseWaitingInside(trx, String(close.fund_id), through);
  const model = await certificateModel(trx, close, ctx.actor!.username, current);
  const contentHash = createHash('sha256').update(JSON.stringify(model)).digest('hex');
  const certificate = await recordStatement(
    trx,
    ctx,
    {
      fundId: String(close.fund_id),
      fundCode: fund.code,
      kind: 'period_close',
      departmentId: null,
      contentHash,
      head: model.head,
      render: (issue) => renderCloseCertificate(model, issue),
    },
    witnessFile,
  );
  await trx('period_closes')
    .where({ id })
    .update({ status: 'approved', decided_by: ctx.actor!.id, decided_at: trx.fn.now(), previous_through: current, certificate_id: certificate.id });
  const view = await getPeriodClose(trx, id);
  await recordAudit(trx, ctx, {
    action: `period.${close.kind}_approve`,
    objectType: 'period_close',
    objectId: id,
    before: { closed_through: current },
    after: { closed_through: through, certificate_no: certificate.statement_no },
  });
  return { ...view, closed_through: through, certificate_no: certificate.statement_no };
}

export async function rejectPeriodClose(trx: Knex.Transaction, ctx: RequestContext, id: string, reason: string) {
  const close = await trx('period_closes').where({ id }).forUpdate().first('status', 'kind');
  if (!close) throw new AppError('NOT_FOUND', '没有这次结账');
  if (close.status !== 'pending') throw new AppError('ALREADY_DECIDED', '这次结账已审核或退回');
  await trx('period_closes').where({ id }).update({ status: 'rejected', decided_by: ctx.actor!.id, decided_at: trx.fn.now(), reject_reason: reason });
  await recordAudit(trx, ctx, {
    action: `period.${close.kind}_reject`,
    objectType: 'period_close',
    objectId: id,
    before: { status: 'pending' },
    after: { status: 'rejected', reason },
  });
  return getPeriodClose(trx, id);
}

/** The certificate's exact bytes, as issued; every download recorded like a statement's. */
export async function closeCertificate(db: Knex, ctx: RequestContext, id: string) {
  const row = await db('period_closes as c')
    .join('statements as s', 's.id', 'c.certificate_id')
    .where('c.id', id)
    .first('s.id', 's.statement_no', 's.pdf', 'c.kind');
  if (!row) throw new AppError('NOT_FOUND', '这次结账没有结账单（尚未审核）');
  await recordDownload(db, ctx, { id: String(row.id), statement_no: row.statement_no });
  return { statementNo: String(row.statement_no), pdf: row.pdf as Buffer, kind: String(row.kind) };
}
