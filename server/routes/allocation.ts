import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { z } from 'zod';
import { readDb } from '../db/read-pool.ts';
import { cancelDisbursement, createDisbursement, listDisbursements, prepareRefund } from '../allocation/disbursements.ts';
import { approveDisbursement, approveDisbursements } from '../allocation/payment-approval.ts';
import { prepareRunDisbursements } from '../allocation/run-disbursements.ts';
import { listPolicies, setPolicy } from '../allocation/policy.ts';
import { departmentPosition, fundPositionsPage } from '../allocation/positions.ts';
import { approveRun, cancelRun, createRun, getRun, listRuns } from '../allocation/runs.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { runIdempotent } from '../http/idempotency.ts';
import { json, route } from '../http/route.ts';
import { disbursement, disbursementList, disbursementPage, policy, policyPage, position, positionPage, run, runPage } from './responses/allocation.ts';
import { accountingDate, cursorParam, idParam, limitParam, money, positiveMoney } from '../http/schemas.ts';

const id = z.strictObject({ id: idParam });
const rate = z
  .string({ error: '须为小数字符串，如 "0.50"' })
  .regex(/^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$/, '须为 0 到 1 之间、最多四位小数的字符串，如 "0.50"')
  .transform((s) => new Decimal(s));
const categoryRates = z.strictObject({ os: rate, office: rate, antivirus: rate, other: rate });
const categoryCaps = z.strictObject({
  os: money.nullable().optional(),
  office: money.nullable().optional(),
  antivirus: money.nullable().optional(),
  other: money.nullable().optional(),
});
const payment = z.strictObject({
  department_id: idParam,
  amount: positiveMoney,
  voucher_no: z.string().trim().min(1, '请填写凭证号').max(64, '最多 64 个字符'),
  date: accountingDate,
  memo: z.string().max(500).optional(),
});

/** A policy version (an integer column): a cursor beyond 2³¹ − 1 names no version of any list. */
const versionCursor = z
  .string()
  .regex(/^[0-9]{1,10}$/, '不是本列表的游标')
  .refine((v) => Number(v) <= 2_147_483_647, '不是本列表的游标')
  .optional();

export function allocationRoutes(db: Knex) {
  return [
    route(
      {
        method: 'put',
        path: '/api/v1/funds/:id/policy',
        action: 'allocation.policy',
        tag: 'allocation',
        summary: 'Publish a new version of the fund’s allocation policy',
        params: id,
        body: z.strictObject({
          rates: categoryRates,
          licence_caps: categoryCaps.optional(),
          department_ceiling: money.nullable().optional(),
          require_completed: z.boolean(),
        }),
        response: json(201, 'the new policy version', policy),
      },
      async (req, res, { params, body }) => {
        return res.status(201).json(await setPolicy(db, contextOf(req), params.id, { ...body, licence_caps: body.licence_caps ?? {} }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/policies',
        action: 'allocation.read',
        tag: 'allocation',
        summary: 'The versions of the fund’s policy, newest first (a page of `limit`, 100 unless given; `cursor` is next_cursor, a version number)',
        params: id,
        query: z.strictObject({ limit: limitParam, cursor: versionCursor }),
        response: json(200, '{items, next_cursor}', policyPage),
      },
      async (_req, res, { params, query }) => {
        return res.json(await listPolicies(db, params.id, query));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/allocation-runs',
        action: 'allocation.run',
        tag: 'allocation',
        idempotent: true,
        summary: 'Compute a draft allocation run from the current policy and verified receipts',
        params: id,
        body: z.strictObject({ as_of: accountingDate.optional() }),
        response: json(201, 'the draft run with its lines', run),
        errors: { 409: 'NO_POLICY' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await createRun(trx, contextOf(req), params.id, body.as_of) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/allocation-runs',
        action: 'allocation.read',
        tag: 'allocation',
        summary: 'The fund’s runs, newest first, without their lines (a page of `limit`, 100 unless given; `cursor` is next_cursor)',
        params: id,
        query: z.strictObject({ limit: limitParam, cursor: cursorParam }),
        response: json(200, '{items, next_cursor}', runPage),
      },
      async (_req, res, { params, query }) => {
        return res.json(await listRuns(db, params.id, query));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/allocation-runs/:id',
        action: 'allocation.read',
        tag: 'allocation',
        summary: 'A run with every line and its explanation',
        params: id,
        response: json(200, 'the run', run),
      },
      async (_req, res, { params }) => {
        return res.json(await getRun(db, params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/allocation-runs/:id/approve',
        action: 'allocation.run',
        tag: 'allocation',
        idempotent: true,
        summary: 'Approve a draft run (another accountant): posts its entries',
        params: id,
        body: z.strictObject({}),
        response: json(200, 'the approved run', run),
        errors: { 403: 'SAME_ACCOUNTANT', 409: 'RUN_STALE or CONFLICT' },
      },
      async (req, res, { params }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await approveRun(trx, contextOf(req), params.id) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/allocation-runs/:id/cancel',
        action: 'allocation.run',
        tag: 'allocation',
        summary: 'Cancel a draft run',
        params: id,
        body: z.strictObject({}),
        response: json(200, 'the run', run),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params }) => {
        return res.json(await cancelRun(db, contextOf(req), params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/disbursements',
        action: 'disbursements.write',
        tag: 'disbursements',
        idempotent: true,
        summary: 'Prepare a payment to a unit (pending until another accountant approves)',
        params: id,
        body: payment,
        response: json(201, 'the pending payment', disbursement),
        errors: { 409: 'EXCEEDS_PAYABLE or DUPLICATE voucher' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await createDisbursement(trx, contextOf(req), params.id, body) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/disbursements',
        action: 'disbursements.read',
        tag: 'disbursements',
        summary: 'Payments and refunds, newest first',
        params: id,
        query: z.strictObject({
          department_id: idParam.optional(),
          status: z.enum(['pending', 'approved', 'cancelled']).optional(),
          limit: limitParam,
          cursor: cursorParam,
        }),
        response: json(200, '{items, next_cursor}', disbursementPage),
      },
      async (_req, res, { params, query }) => {
        return res.json(await listDisbursements(db, params.id, query));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/disbursements/:id/approve',
        action: 'disbursements.write',
        tag: 'disbursements',
        idempotent: true,
        summary: 'Approve a pending payment (another accountant): posts it in both books',
        params: id,
        body: z.strictObject({}),
        response: json(200, 'the payment', disbursement),
        errors: { 403: 'SAME_ACCOUNTANT', 409: 'INSUFFICIENT_BALANCE or CONFLICT' },
      },
      async (req, res, { params }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await approveDisbursement(trx, contextOf(req), params.id) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/disbursements/approve',
        action: 'disbursements.write',
        tag: 'disbursements',
        idempotent: true,
        summary: 'Approve many pending payments of one fund (another accountant): all post or none',
        body: z.strictObject({ ids: z.array(idParam).min(1, '请至少选择一笔拨付').max(5000, '一次最多 5000 笔') }),
        response: json(200, '{items}', disbursementList),
        errors: {
          403: 'SAME_ACCOUNTANT',
          404: 'NOT_FOUND: a payment named in ids does not exist',
          409: 'INSUFFICIENT_BALANCE (what is short, in words) or CONFLICT',
        },
      },
      async (req, res, { body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await approveDisbursements(trx, contextOf(req), body.ids) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/allocation-runs/:id/disbursements',
        action: 'disbursements.write',
        tag: 'disbursements',
        idempotent: true,
        summary: 'Prepare pending payments for every unit of an approved run with something still payable',
        params: id,
        body: z.strictObject({ date: accountingDate }),
        response: json(201, '{items}', disbursementList),
        errors: { 409: 'CONFLICT (run not approved, or nothing left to pay)' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({
          status: 201,
          body: await prepareRunDisbursements(trx, contextOf(req), params.id, body.date),
        }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/disbursements/:id/cancel',
        action: 'disbursements.write',
        tag: 'disbursements',
        summary: 'Cancel a pending payment',
        params: id,
        body: z.strictObject({}),
        response: json(200, 'the payment', disbursement),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params }) => {
        return res.json(await cancelDisbursement(db, contextOf(req), params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/refunds',
        action: 'disbursements.write',
        tag: 'disbursements',
        idempotent: true,
        summary: 'Prepare a refund a unit returned (the reverse of a payment); posted when another accountant approves it (POST /disbursements/:id/approve)',
        params: id,
        body: payment,
        response: json(201, 'the pending refund', disbursement),
        errors: { 409: 'EXCEEDS_PAYABLE' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await prepareRefund(trx, contextOf(req), params.id, body) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/positions',
        action: 'allocation.read',
        tag: 'allocation',
        summary: 'Per unit, by unit code: entitlement, allocated, paid, payable, to recover (a page of `limit`, 500 unless given; `cursor` is next_cursor)',
        params: id,
        query: z.strictObject({ limit: limitParam, cursor: cursorParam }),
        response: json(200, '{items, next_cursor}', positionPage),
        errors: { 422: 'VALIDATION_FAILED (a cursor that is not a unit)' },
      },
      async (req, res, { params, query }) => {
        return res.json(await fundPositionsPage(readDb(req), params.id, query.limit ?? 500, query.cursor));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/departments/:dept/position',
        action: 'positions.read',
        tag: 'allocation',
        summary: 'One unit’s entitlement, allocated, paid, payable, to recover',
        params: z.strictObject({ id: idParam, dept: idParam }),
        response: json(200, 'the position', position),
      },
      async (req, res, { params }) => {
        return res.json(await departmentPosition(readDb(req), actorOf(req), params.id, params.dept));
      },
    ),
  ];
}
