import type { Knex } from 'knex';
import { z } from 'zod';
import { readDb } from '../db/read-pool.ts';
import { contextOf } from '../http/context.ts';
import { idempotencyClaimOf, runIdempotent } from '../http/idempotency.ts';
import { json, route } from '../http/route.ts';
import {
  accountLedgerPage,
  detailLedgerPage,
  generalLedgerReport,
  batch,
  batchPosted,
  batchPrepared,
  entry,
  journalPage,
  pendingEntry,
  pendingEntryPage,
  postedEntry,
  trialBalanceReport,
  verifyReport,
} from './responses/ledger.ts';
import { accountingDate, calendarDate, cursorParam, idParam, limitParam, money } from '../http/schemas.ts';
import { approvalQueue } from '../ledger/approval-queue.ts';
import { approveBatchInOneCall } from '../ledger/batch-in-one-call.ts';
import { getFund } from '../ledger/funds.ts';
import { accountLedger, generalLedger } from '../ledger/account-books.ts';
import { listAccountLedger, listJournal } from '../ledger/journal-read.ts';
import { resolveJournalFilter } from '../ledger/journal-filter.ts';
import { prepareManualBatch, prepareManualEntry } from '../ledger/manual-entries.ts';
import { approveBatch, approveEntry, getAnyEntry, getBatch, listPendingEntries, rejectBatch, rejectEntry } from '../ledger/pending-entries.ts';
import { prepareReversal } from '../ledger/reverse-entry.ts';
import { trialBalance } from '../ledger/trial-balance.ts';
import { verifyLedgerRecorded } from '../ledger/verify/verify-ledger.ts';
import { witnessFileOf } from '../ledger/witness.ts';

const fundId = z.strictObject({ id: idParam });
const accountCode = z.string().regex(/^[0-9]{4}(\.[A-Za-z0-9_-]{1,32})?$/, '须为科目代码，如 1011、2307 或 2307.XJ031');
const batch_max = 1000;

const manualEntry = z.strictObject({
  date: accountingDate,
  memo: z.string().trim().min(1, '请填写摘要').max(500),
  document_no: z.string().trim().min(1).max(100).optional(),
  postings: z
    .array(z.strictObject({ account_code: accountCode, side: z.enum(['debit', 'credit']), amount: money }))
    .min(2, '一张凭证至少需要两条分录')
    .max(100, '一张凭证最多 100 条分录'),
});

const entryId = z.strictObject({ id: idParam });
const rejection = z.strictObject({ reason: z.string().trim().min(1, '须说明退回原因').max(500) });

const entryKinds = ['appropriation', 'manual', 'allocation', 'clawback', 'disbursement', 'refund', 'reversal'] as const;

export function journalRoutes(db: Knex, config: { dataDir: string; witnessFile?: string | undefined }) {
  const approvals = approvalQueue(db);
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/journal-entries',
        action: 'ledger.post',
        tag: 'ledger',
        idempotent: true,
        summary: 'Prepare a manual entry (postings by account code and side); posted when another accountant approves it',
        params: fundId,
        body: manualEntry,
        response: json(201, 'the pending entry', pendingEntry),
        errors: { 409: 'PERIOD_CLOSED', 422: 'UNBALANCED_ENTRY, UNKNOWN_ACCOUNT, RESERVED_ACCOUNT, DATE_OUT_OF_PERIOD or VALIDATION_FAILED' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await prepareManualEntry(trx, contextOf(req), params.id, body) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/journal-entries/batch',
        action: 'ledger.post',
        tag: 'ledger',
        idempotent: true,
        summary: `Prepare up to ${batch_max} manual entries as one pending batch; another accountant approves all or none`,
        params: fundId,
        body: z.strictObject({ entries: z.array(manualEntry).min(1, '至少提交一张凭证').max(batch_max, `一次最多 ${batch_max} 张凭证`) }),
        response: json(201, '{id, status:"pending", count, entry_ids}', batchPrepared),
        errors: { 409: 'PERIOD_CLOSED', 422: 'UNBALANCED_ENTRY, UNKNOWN_ACCOUNT, RESERVED_ACCOUNT or VALIDATION_FAILED' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({
          status: 201,
          body: await prepareManualBatch(trx, contextOf(req), params.id, body.entries),
        }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/journal-entry-batches/:id/approve',
        action: 'ledger.approve',
        tag: 'ledger',
        idempotent: true,
        summary: 'Approve a pending batch (another accountant): posts every entry or none',
        params: entryId,
        body: z.strictObject({}).optional(),
        response: json(200, '{items:[{id, seq, date, hash}], head_hash}', batchPosted),
        errors: { 403: 'SAME_ACCOUNTANT', 409: 'ALREADY_POSTED, ALREADY_DECIDED, INSUFFICIENT_BALANCE, OVER_APPROPRIATION or PERIOD_CLOSED' },
      },
      async (req, res, { params }) => {
        const posted = await approveBatchInOneCall(db, contextOf(req), params.id, idempotencyClaimOf(req, req.body));
        if (posted !== null) return res.status(200).json(posted);
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await approveBatch(trx, contextOf(req), params.id) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/journal-entry-batches/:id/reject',
        action: 'ledger.approve',
        tag: 'ledger',
        idempotent: true,
        summary: 'Send a pending batch back with the reason',
        params: entryId,
        body: rejection,
        response: json(200, 'the batch', batch),
        errors: { 409: 'ALREADY_POSTED or ALREADY_DECIDED' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await rejectBatch(trx, contextOf(req), params.id, body.reason) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/journal-entry-batches/:id',
        action: 'ledger.read',
        tag: 'ledger',
        summary: 'A batch of manual entries and its state',
        params: entryId,
        response: json(200, 'the batch', batch),
      },
      async (_req, res, { params }) => {
        return res.json(await getBatch(db, params.id));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/journal-entries',
        action: 'ledger.read',
        tag: 'ledger',
        summary: 'Prepared entries by status (pending: waiting for approval), oldest first',
        params: fundId,
        query: z.strictObject({ status: z.enum(['pending', 'posted', 'rejected']).optional(), limit: limitParam, cursor: cursorParam }),
        response: json(200, '{items, next_cursor}', pendingEntryPage),
      },
      async (_req, res, { params, query }) => {
        return res.json(await listPendingEntries(db, params.id, { status: query.status ?? 'pending', limit: query.limit ?? 100, cursor: query.cursor }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/journal-entries/:id',
        action: 'ledger.read',
        tag: 'ledger',
        summary: 'One entry, posted, pending or rejected',
        params: entryId,
        response: json(200, 'the entry', entry),
      },
      async (_req, res, { params }) => {
        return res.json(await getAnyEntry(db, params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/journal-entries/:id/approve',
        action: 'ledger.approve',
        tag: 'ledger',
        idempotent: true,
        summary: 'Approve a pending entry (another accountant): posts it, re-checking every rule now',
        params: entryId,
        body: z.strictObject({}).optional(),
        response: json(200, 'the posted entry (status "posted", seq, hash)', postedEntry),
        errors: { 403: 'SAME_ACCOUNTANT', 409: 'ALREADY_POSTED, ALREADY_DECIDED, INSUFFICIENT_BALANCE, OVER_APPROPRIATION or PERIOD_CLOSED' },
      },
      async (req, res, { params }) => {
        // One coalesced call posts it; what that call could not post is answered (and explained) one at a time.
        const outcome = await approvals.approve({ entryId: params.id, ctx: contextOf(req), idempotency: idempotencyClaimOf(req, req.body) });
        if (outcome.posted) return res.status(200).json(outcome.entry);
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await approveEntry(trx, contextOf(req), params.id) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/journal-entries/:id/reject',
        action: 'ledger.approve',
        tag: 'ledger',
        idempotent: true,
        summary: 'Send a pending entry back with the reason',
        params: entryId,
        body: rejection,
        response: json(200, 'the rejected entry', pendingEntry),
        errors: { 409: 'ALREADY_POSTED or ALREADY_DECIDED' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await rejectEntry(trx, contextOf(req), params.id, body.reason) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/journal-entries/:id/reversal',
        action: 'ledger.post',
        tag: 'ledger',
        idempotent: true,
        summary: 'Prepare the mirror entry of an entry, linked to it; posted when another accountant approves it',
        params: entryId,
        body: z.strictObject({ date: accountingDate.optional(), memo: z.string().trim().min(1).max(500).optional() }).optional(),
        response: json(201, 'the pending reversal', pendingEntry),
        errors: { 409: 'ALREADY_REVERSED, CANNOT_REVERSE_REVERSAL or PERIOD_CLOSED' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await prepareReversal(trx, contextOf(req), params.id, body ?? {}) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/journal',
        action: 'ledger.read',
        tag: 'ledger',
        summary: 'Journal entries with postings, newest first',
        params: fundId,
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          from: calendarDate.optional(),
          to: calendarDate.optional(),
          kind: z.enum(entryKinds).optional(),
          account: accountCode.optional(),
          department_id: idParam.optional(),
          department: z.string().trim().min(1, '请输入单位代码或名称').max(200, '最多 200 个字符').optional(),
        }),
        response: json(
          200,
          '{items, next_cursor, filter:{description}}; account=2307 takes every 2307.* account; department is a unit code or name',
          journalPage,
        ),
        errors: { 422: 'VALIDATION_FAILED (no such account or unit)' },
      },
      async (req, res, { params, query }) => {
        const reads = readDb(req);
        await getFund(reads, params.id);
        const filter = await resolveJournalFilter(reads, params.id, query);
        const { department: _department, ...rest } = query;
        const page = await listJournal(reads, params.id, {
          ...rest,
          limit: query.limit ?? 100,
          department_ids: filter.departmentIds,
          account_is_parent: filter.accountIsParent,
          account_ids: filter.accountIds,
        });
        return res.json({
          ...page,
          filter: { account: filter.account ?? null, department_ids: filter.departmentIds ?? null, description: filter.description },
        });
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/accounts/:code/ledger',
        action: 'ledger.read',
        tag: 'ledger',
        summary: "An account's postings with running balance, newest first",
        params: z.strictObject({ id: idParam, code: accountCode }),
        query: z.strictObject({ limit: limitParam, cursor: cursorParam }),
        response: json(200, '{account, items, next_cursor}', accountLedgerPage),
      },
      async (req, res, { params, query }) => {
        return res.json(await listAccountLedger(readDb(req), params.id, params.code, query.limit ?? 100, query.cursor));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/general-ledger',
        action: 'ledger.read',
        tag: 'ledger',
        summary:
          '总账 of one book for a period: per first-level account 期初余额, 本期借方, 本期贷方, 期末余额 (balances with direction 借/贷/平, by entry date)',
        params: fundId,
        query: z.strictObject({ book: z.enum(['financial', 'budget']).optional(), from: calendarDate, to: calendarDate }),
        response: json(
          200,
          '{book, period, accounts:[{code, name, opening:{direction, amount}, debit, credit, closing}], debit_total, credit_total}',
          generalLedgerReport,
        ),
      },
      async (req, res, { params, query }) => {
        return res.json(await generalLedger(readDb(req), params.id, query.book ?? 'financial', { from: query.from, to: query.to }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/accounts/:code/detail-ledger',
        action: 'ledger.read',
        tag: 'ledger',
        summary:
          '明细账 of an account (a first-level code such as 2307 takes its unit sub-accounts) for a period, oldest first by date and 凭证字号, with the running balance',
        params: z.strictObject({ id: idParam, code: accountCode }),
        query: z.strictObject({ from: calendarDate, to: calendarDate, limit: limitParam, cursor: cursorParam }),
        response: json(
          200,
          '{account, period, opening, debit_total, credit_total, closing, items:[{date, voucher_no, memo, debit, credit, direction, balance}], next_cursor}',
          detailLedgerPage,
        ),
      },
      async (req, res, { params, query }) => {
        return res.json(await accountLedger(readDb(req), params.id, params.code, { from: query.from, to: query.to }, query.limit ?? 100, query.cursor));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/trial-balance',
        action: 'ledger.read',
        tag: 'ledger',
        summary: 'Trial balance per book, optionally as of a date',
        params: fundId,
        query: z.strictObject({ as_of: calendarDate.optional() }),
        response: json(200, '{as_of, books, accounts}', trialBalanceReport),
      },
      async (req, res, { params, query }) => {
        return res.json(await trialBalance(readDb(req), params.id, query.as_of));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/ledger/verify',
        action: 'ledger.read',
        tag: 'ledger',
        summary:
          'Verify the books in one snapshot: chain, running and stored balances, fund figures by kind, anchors and the witness. mode=full (default) recomputes every entry; ' +
          'mode=incremental recomputes only the entries after the last checkpoint (written by every verify that holds) and checks the older ones by their stored hashes ' +
          'against the checkpoint and the anchors: it cannot see an old entry changed with its stored hash left alone, which only a full verify finds',
        params: fundId,
        query: z.strictObject({ mode: z.enum(['full', 'incremental'], { error: '须为 full 或 incremental' }).optional() }),
        response: json(
          200,
          '{ok, entries, head_hash, first_bad_seq, problems:[{kind, seq?, account?, detail}], mode, checkpoint:{id, seq, hash, mode, verified_at}|null, entries_checked}',
          verifyReport,
        ),
      },
      async (req, res, { params, query }) => {
        return res.json(await verifyLedgerRecorded(db, contextOf(req), params.id, witnessFileOf(config), query.mode ?? 'full'));
      },
    ),
  ];
}
