import type { Knex } from 'knex';
import { z } from 'zod';
import { contextOf } from '../http/context.ts';
import { runIdempotent } from '../http/idempotency.ts';
import { route } from '../http/route.ts';
import { calendarDate, cursorParam, idParam, limitParam, money } from '../http/schemas.ts';
import { getFund } from '../ledger/funds.ts';
import { listAccountLedger, listJournal } from '../ledger/journal-read.ts';
import { resolveJournalFilter } from '../ledger/journal-filter.ts';
import { recordManualEntries } from '../ledger/manual-entries.ts';
import { reverseEntry } from '../ledger/reverse-entry.ts';
import { trialBalance } from '../ledger/trial-balance.ts';
import { verifyLedger } from '../ledger/verify/verify-ledger.ts';
import { witnessFileOf } from '../ledger/witness.ts';

const fundId = z.strictObject({ id: idParam });
const accountCode = z.string().regex(/^[0-9]{4}(\.[A-Za-z0-9_-]{1,32})?$/, '须为科目代码，如 1011、2307 或 2307.XJ031');
const batch_max = 1000;

const manualEntry = z.strictObject({
  date: calendarDate,
  memo: z.string().trim().min(1, '请填写摘要').max(500),
  document_no: z.string().trim().min(1).max(100).optional(),
  postings: z
    .array(z.strictObject({ account_code: accountCode, side: z.enum(['debit', 'credit']), amount: money }))
    .min(2, '一张凭证至少需要两条分录')
    .max(100, '一张凭证最多 100 条分录'),
});

const entryKinds = ['appropriation', 'manual', 'allocation', 'clawback', 'disbursement', 'refund', 'reversal'] as const;

export function journalRoutes(db: Knex, config: { dataDir: string; witnessFile?: string | undefined }) {
  return [
    route(
      {
        method: 'post', path: '/api/v1/funds/:id/journal-entries', action: 'ledger.post', tag: 'ledger', idempotent: true,
        summary: 'Post a manual entry (postings by account code and side)', params: fundId, body: manualEntry,
        responses: { 201: 'the journal entry', 409: 'INSUFFICIENT_BALANCE or OVER_APPROPRIATION', 422: 'UNBALANCED_ENTRY, UNKNOWN_ACCOUNT or VALIDATION_FAILED' },
      },
      async (req, res, { params, body }) => {
        await runIdempotent(db, req, res, req.body, async (trx) => {
          const [entry] = await recordManualEntries(trx, contextOf(req), params.id, [body]);
          return { status: 201, body: entry };
        });
      },
    ),
    route(
      {
        method: 'post', path: '/api/v1/funds/:id/journal-entries/batch', action: 'ledger.post', tag: 'ledger', idempotent: true,
        summary: `Post up to ${batch_max} manual entries, all or nothing`, params: fundId,
        body: z.strictObject({ entries: z.array(manualEntry).min(1, '至少提交一张凭证').max(batch_max, `一次最多 ${batch_max} 张凭证`) }),
        responses: { 201: '{items:[{id, seq, date, hash}], head_hash}', 409: 'INSUFFICIENT_BALANCE or OVER_APPROPRIATION', 422: 'UNBALANCED_ENTRY, UNKNOWN_ACCOUNT or VALIDATION_FAILED' },
      },
      async (req, res, { params, body }) => {
        await runIdempotent(db, req, res, req.body, async (trx) => {
          const posted = await recordManualEntries(trx, contextOf(req), params.id, body.entries);
          // A thousand entries echoed back in full would be megabytes; each is one GET away.
          return { status: 201, body: { items: posted.map((e) => ({ id: e.id, seq: e.seq, date: e.date, hash: e.hash })), head_hash: posted[posted.length - 1]!.hash } };
        });
      },
    ),
    route(
      {
        method: 'post', path: '/api/v1/journal-entries/:id/reversal', action: 'ledger.post', tag: 'ledger', idempotent: true,
        summary: 'Post the mirror entry of an entry, linked to it', params: z.strictObject({ id: idParam }),
        body: z.strictObject({ date: calendarDate.optional(), memo: z.string().trim().min(1).max(500).optional() }).optional(),
        responses: { 201: 'the reversal entry', 409: 'ALREADY_REVERSED, CANNOT_REVERSE_REVERSAL or INSUFFICIENT_BALANCE' },
      },
      async (req, res, { params, body }) => {
        await runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await reverseEntry(trx, contextOf(req), params.id, body ?? {}) }));
      },
    ),
    route(
      {
        method: 'get', path: '/api/v1/funds/:id/journal', action: 'ledger.read', tag: 'ledger', summary: 'Journal entries with postings, newest first',
        params: fundId,
        query: z.strictObject({
          limit: limitParam, cursor: cursorParam, from: calendarDate.optional(), to: calendarDate.optional(),
          kind: z.enum(entryKinds).optional(), account: accountCode.optional(), department_id: idParam.optional(),
          department: z.string().trim().min(1, '请输入单位代码或名称').max(200, '最多 200 个字符').optional(),
        }),
        responses: { 200: '{items, next_cursor, filter:{description}}; account=2307 takes every 2307.* account; department is a unit code or name', 422: 'VALIDATION_FAILED (no such account or unit)' },
      },
      async (_req, res, { params, query }) => {
        await getFund(db, params.id);
        const filter = await resolveJournalFilter(db, params.id, query);
        const { department: _department, ...rest } = query;
        const page = await listJournal(db, params.id, { ...rest, limit: query.limit ?? 100, department_ids: filter.departmentIds, account_is_parent: filter.accountIsParent });
        res.json({ ...page, filter: { account: filter.account ?? null, department_ids: filter.departmentIds ?? null, description: filter.description } });
      },
    ),
    route(
      {
        method: 'get', path: '/api/v1/funds/:id/accounts/:code/ledger', action: 'ledger.read', tag: 'ledger', summary: "An account's postings with running balance, newest first",
        params: z.strictObject({ id: idParam, code: accountCode }), query: z.strictObject({ limit: limitParam, cursor: cursorParam }),
        responses: { 200: '{account, items, next_cursor}' },
      },
      async (_req, res, { params, query }) => {
        res.json(await listAccountLedger(db, params.id, params.code, query.limit ?? 100, query.cursor));
      },
    ),
    route(
      {
        method: 'get', path: '/api/v1/funds/:id/trial-balance', action: 'ledger.read', tag: 'ledger', summary: 'Trial balance per book, optionally as of a date',
        params: fundId, query: z.strictObject({ as_of: calendarDate.optional() }), responses: { 200: '{as_of, books, accounts}' },
      },
      async (_req, res, { params, query }) => {
        res.json(await trialBalance(db, params.id, query.as_of));
      },
    ),
    route(
      {
        method: 'get', path: '/api/v1/funds/:id/ledger/verify', action: 'ledger.read', tag: 'ledger', summary: 'Verify the books in one snapshot: chain, running and stored balances, fund figures by kind, anchors and the witness',
        params: fundId, responses: { 200: '{ok, entries, head_hash, first_bad_seq, problems:[{kind, seq?, account?, detail}]}' },
      },
      async (_req, res, { params }) => {
        res.json(await verifyLedger(db, params.id, witnessFileOf(config)));
      },
    ),
  ];
}
