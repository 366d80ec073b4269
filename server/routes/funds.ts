import type { Knex } from 'knex';
import { z } from 'zod';
import { contextOf } from '../http/context.ts';
import { runIdempotent } from '../http/idempotency.ts';
import { json, route } from '../http/route.ts';
import { accountList, fund, fundPage, pendingEntry } from './responses/ledger.ts';
import { accountingDate, calendarDate, cursorParam, idParam, limitParam, money } from '../http/schemas.ts';
import { prepareAppropriation } from '../ledger/appropriate.ts';
import { createFund, getFund, listAccounts, listFunds } from '../ledger/funds.ts';

const fundId = z.strictObject({ id: idParam });

export function fundRoutes(db: Knex) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/funds',
        action: 'funds.create',
        tag: 'funds',
        summary: 'Create a fund and its chart of accounts',
        body: z.strictObject({
          code: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1–40 letters, digits, ".", "_" or "-"'),
          name: z.string().trim().min(1, '不能为空').max(200),
          fiscal_year: z.number().int().min(1990).max(2200),
          document_no: z.string().trim().min(1, '不能为空').max(100),
          opening_date: calendarDate.optional(),
        }),
        response: json(201, 'the fund', fund),
        errors: { 409: 'DUPLICATE' },
      },
      async (req, res, { body }) => {
        return res.status(201).json(await createFund(db, contextOf(req), body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds',
        action: 'funds.list',
        tag: 'funds',
        summary: 'List funds, newest first; q searches code and name',
        query: z.strictObject({ limit: limitParam, cursor: cursorParam, q: z.string().max(200, '最多 200 个字符').optional() }),
        response: json(200, '{items, next_cursor}', fundPage),
      },
      async (_req, res, { query }) => {
        return res.json(await listFunds(db, query.limit ?? 100, query.cursor, query.q));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id',
        action: 'funds.read',
        tag: 'funds',
        summary: 'A fund with appropriated, allocated, disbursed, available_to_allocate, cash_balance',
        params: fundId,
        response: json(200, 'the fund', fund),
      },
      async (_req, res, { params }) => {
        return res.json(await getFund(db, params.id));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/accounts',
        action: 'ledger.read',
        tag: 'ledger',
        summary:
          "The fund's accounts by code with book, normal side and balance. The body stays an array (the contract's shape); with `limit` it is one page, " +
          'and the next page is named by the `Link: <…>; rel="next"` and `X-Next-Cursor` headers (absent on the last page)',
        params: fundId,
        query: z.strictObject({ limit: limitParam, cursor: cursorParam }),
        response: json(200, '[account]', accountList),
        errors: { 422: 'VALIDATION_FAILED (a cursor that is not an account of this fund)' },
      },
      async (req, res, { params, query }) => {
        const paged = query.limit !== undefined || query.cursor !== undefined;
        const page = await listAccounts(db, params.id, paged ? { limit: query.limit ?? 500, cursor: query.cursor } : undefined);
        if (page.next_cursor) {
          const next = new URLSearchParams({ limit: String(query.limit ?? 500), cursor: page.next_cursor });
          res.setHeader('Link', `<${req.baseUrl}${req.path}?${next.toString()}>; rel="next"`);
          res.setHeader('X-Next-Cursor', page.next_cursor);
        }
        return res.json(page.items);
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/appropriations',
        action: 'ledger.post',
        tag: 'ledger',
        idempotent: true,
        summary: 'Prepare an appropriation received (Dr 1011 / Cr 4001; Dr 8001 / Cr 6001); posted when another accountant approves it',
        params: fundId,
        body: z.strictObject({
          amount: money,
          document_no: z.string().trim().min(1, '不能为空').max(100),
          date: accountingDate,
          memo: z.string().max(500).optional(),
        }),
        response: json(201, 'the pending entry', pendingEntry),
        errors: { 409: 'PERIOD_CLOSED', 422: 'VALIDATION_FAILED or DATE_OUT_OF_PERIOD' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await prepareAppropriation(trx, contextOf(req), params.id, body) }));
      },
    ),
  ];
}
