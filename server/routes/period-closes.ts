import type { Knex } from 'knex';
import { z } from 'zod';
import { contentDisposition } from '../files/sniff.ts';
import { contextOf } from '../http/context.ts';
import { runIdempotent } from '../http/idempotency.ts';
import { file, json, mediaTypes, route, written } from '../http/route.ts';
import { periodClose, periodCloseList } from './responses/ledger.ts';
import { accountingDate, idParam } from '../http/schemas.ts';
import { witnessFileOf } from '../ledger/witness.ts';
import { approvePeriodClose, closeCertificate, getPeriodClose, listPeriodCloses, preparePeriodClose, rejectPeriodClose } from '../ledger/period-closes.ts';

const id = z.strictObject({ id: idParam });

export function periodCloseRoutes(db: Knex, config: { dataDir: string; witnessFile?: string | undefined }) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/period-closes',
        action: 'periods.close',
        tag: 'periods',
        idempotent: true,
        summary: 'Prepare a close (结账) through a date; a date before the current closed-through date is a reopen (反结账) and needs a reason',
        params: id,
        body: z.strictObject({ through: accountingDate, reason: z.string().trim().max(500).optional() }),
        response: json(201, 'the pending close', periodClose),
        errors: { 409: 'PENDING_IN_PERIOD or CONFLICT' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await preparePeriodClose(trx, contextOf(req), params.id, body) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/period-closes',
        action: 'periods.read',
        tag: 'periods',
        summary: 'Closes and reopens of a fund, newest first',
        params: id,
        response: json(200, '{items}', periodCloseList),
      },
      async (_req, res, { params }) => {
        return res.json(await listPeriodCloses(db, params.id));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/period-closes/:id',
        action: 'periods.read',
        tag: 'periods',
        summary: 'A close or reopen',
        params: id,
        response: json(200, 'the close', periodClose),
      },
      async (_req, res, { params }) => {
        return res.json(await getPeriodClose(db, params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/period-closes/:id/approve',
        action: 'periods.close',
        tag: 'periods',
        idempotent: true,
        summary: 'Approve a close or reopen (another accountant): issues its certificate and moves the closed-through date',
        params: id,
        body: z.strictObject({}).optional(),
        response: json(200, '{closed_through, certificate_no, …}', periodClose),
        errors: { 403: 'SAME_ACCOUNTANT', 409: 'ALREADY_DECIDED, PENDING_IN_PERIOD or CONFLICT' },
      },
      async (req, res, { params }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({
          status: 200,
          body: await approvePeriodClose(trx, contextOf(req), params.id, witnessFileOf(config)),
        }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/period-closes/:id/reject',
        action: 'periods.close',
        tag: 'periods',
        idempotent: true,
        summary: 'Send a close or reopen back with the reason',
        params: id,
        body: z.strictObject({ reason: z.string().trim().min(1, '须说明退回原因').max(500) }),
        response: json(200, 'the close', periodClose),
        errors: { 409: 'ALREADY_DECIDED' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({
          status: 200,
          body: await rejectPeriodClose(trx, contextOf(req), params.id, body.reason),
        }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/period-closes/:id/certificate.pdf',
        action: 'statements.read',
        tag: 'periods',
        summary: 'The close certificate (结账单) as issued; checkable through POST /statements/verify',
        params: id,
        response: file('the PDF', mediaTypes.pdf),
        errors: { 404: 'NOT_FOUND (not approved yet)' },
      },
      async (req, res, { params }) => {
        const c = await closeCertificate(db, contextOf(req), params.id);
        res.setHeader('Content-Type', 'application/pdf');
        res.setHeader('Content-Disposition', contentDisposition('attachment', `${c.kind === 'close' ? '结账单' : '反结账单'}-${c.statementNo}.pdf`));
        res.setHeader('X-Statement-No', c.statementNo);
        res.send(c.pdf);
        return written(res);
      },
    ),
  ];
}
