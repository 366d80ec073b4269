import type { Knex } from 'knex';
import { z } from 'zod';
import { recordEvidence } from '../assets/evidence.ts';
import type { Config } from '../config.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { runIdempotent } from '../http/idempotency.ts';
import { json, route } from '../http/route.ts';
import { clawback, clawbackList, finding, findingPage, inspection, inspectionPage, rectification } from './responses/inspections.ts';
import { attachment } from './responses/receipts.ts';
import { accountingDate, cursorParam, idParam, limitParam } from '../http/schemas.ts';
import { approveClawback, cancelClawback, clawbackBody, listClawbacks, prepareClawback } from '../inspections/clawbacks.ts';
import { addFinding, decideFinding, findingBody, getFinding, listFindings, noteBody, rectificationForUpload, rectify } from '../inspections/findings.ts';
import { createInspection, getInspection, inspectionBody, listInspections } from '../inspections/inspections.ts';

const byId = z.strictObject({ id: idParam });

export function inspectionRoutes(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/inspections',
        action: 'inspections.write',
        tag: 'inspections',
        summary: 'Record a supervision visit (督查): document number, team, date, units visited',
        body: inspectionBody,
        response: json(201, 'the inspection', inspection),
        errors: { 409: 'DUPLICATE (document number)' },
      },
      async (req, res, { body }) => {
        return res.status(201).json(await createInspection(db, contextOf(req), body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/inspections',
        action: 'inspections.read',
        tag: 'inspections',
        summary: 'Inspections, newest first (a unit sees those that visited it)',
        query: z.strictObject({ limit: limitParam, cursor: cursorParam }),
        response: json(200, '{items, next_cursor}', inspectionPage),
      },
      async (req, res, { query }) => {
        return res.json(await listInspections(db, actorOf(req), query));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/inspections/:id',
        action: 'inspections.read',
        tag: 'inspections',
        summary: 'An inspection with its findings (a unit sees only its own)',
        params: byId,
        response: json(200, 'the inspection', inspection),
      },
      async (req, res, { params }) => {
        return res.json(await getInspection(db, actorOf(req), params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/inspections/:id/findings',
        action: 'inspections.write',
        tag: 'inspections',
        summary: 'Record a finding for a visited unit, with its rectification deadline',
        params: byId,
        body: findingBody,
        response: json(201, 'the finding', finding),
      },
      async (req, res, { params, body }) => {
        return res.status(201).json(await addFinding(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/findings',
        action: 'inspections.read',
        tag: 'inspections',
        summary: 'Findings, newest first; overdue=1 lists those past their deadline and not closed (a unit sees its own)',
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          department_id: idParam.optional(),
          inspection_id: idParam.optional(),
          status: z.enum(['open', 'answered', 'closed']).optional(),
          overdue: z
            .enum(['0', '1'])
            .transform((v) => v === '1')
            .optional(),
        }),
        response: json(200, '{items, next_cursor}', findingPage),
      },
      async (req, res, { query }) => {
        return res.json(await listFindings(db, actorOf(req), { ...query, limit: query.limit ?? 100 }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/findings/:id',
        action: 'inspections.read',
        tag: 'inspections',
        summary: 'A finding with its history, scans and clawbacks',
        params: byId,
        response: json(200, 'the finding', finding),
        errors: { 404: 'NOT_FOUND (also another unit’s)' },
      },
      async (req, res, { params }) => {
        return res.json(await getFinding(db, actorOf(req), params.id));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/findings/:id/rectifications',
        action: 'findings.rectify',
        tag: 'inspections',
        summary: 'The unit answers a finding with what it has rectified (整改); scans follow on /rectifications/:id/attachments',
        params: byId,
        body: noteBody,
        response: json(201, 'the rectification', rectification),
        errors: { 409: 'CONFLICT (closed)' },
      },
      async (req, res, { params, body }) => {
        return res.status(201).json(await rectify(db, contextOf(req), params.id, body.note));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/rectifications/:id/attachments',
        action: 'findings.rectify',
        tag: 'inspections',
        bodyType: 'multipart',
        summary: 'Attach a scan to a rectification (multipart field "file")',
        params: byId,
        response: json(201, '{id, sha256, media_type, size}', attachment),
        errors: { 409: 'CONFLICT (closed)' },
      },
      async (req, res, { params }) => {
        const eventId = await rectificationForUpload(db, actorOf(req), params.id);
        return res.status(201).json(await recordEvidence(db, contextOf(req), req, config, { findingEventId: eventId }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/findings/:id/close',
        action: 'findings.decide',
        tag: 'inspections',
        summary: 'Close a finding (销号) with a note',
        params: byId,
        body: noteBody,
        response: json(200, 'the finding', finding),
        errors: { 409: 'CONFLICT (already closed)' },
      },
      async (req, res, { params, body }) => {
        return res.json(await decideFinding(db, contextOf(req), params.id, 'closed', body.note));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/findings/:id/keep-open',
        action: 'findings.decide',
        tag: 'inspections',
        summary: 'Keep a finding open, saying what is still missing',
        params: byId,
        body: noteBody,
        response: json(200, 'the finding', finding),
        errors: { 409: 'CONFLICT (closed)' },
      },
      async (req, res, { params, body }) => {
        return res.json(await decideFinding(db, contextOf(req), params.id, 'kept_open', body.note));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/findings/:id/clawback',
        action: 'clawbacks.write',
        tag: 'inspections',
        idempotent: true,
        summary: 'Prepare a clawback of unpaid reward from a finding; posted (Dr 2307.d / Cr 5001.d) when another accountant approves',
        params: byId,
        body: clawbackBody,
        response: json(201, 'the pending clawback', clawback),
        errors: { 409: 'EXCEEDS_PAYABLE' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 201, body: await prepareClawback(trx, contextOf(req), params.id, body) }));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/finding-clawbacks',
        action: 'disbursements.read',
        tag: 'inspections',
        summary: 'Clawbacks from findings, newest first',
        query: z.strictObject({ fund_id: idParam.optional(), status: z.enum(['pending', 'approved', 'cancelled']).optional() }),
        response: json(200, '{items}', clawbackList),
      },
      async (_req, res, { query }) => {
        return res.json(await listClawbacks(db, query));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/finding-clawbacks/:id/approve',
        action: 'clawbacks.write',
        tag: 'inspections',
        idempotent: true,
        summary: 'Approve a clawback (another accountant): posts it',
        params: byId,
        body: z.strictObject({ date: accountingDate.optional() }),
        response: json(200, 'the clawback with its entry', clawback),
        errors: { 403: 'SAME_ACCOUNTANT', 409: 'CONFLICT or EXCEEDS_PAYABLE' },
      },
      async (req, res, { params, body }) => {
        return runIdempotent(db, req, res, req.body, async (trx) => ({ status: 200, body: await approveClawback(trx, contextOf(req), params.id, body.date) }));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/finding-clawbacks/:id/cancel',
        action: 'clawbacks.write',
        tag: 'inspections',
        summary: 'Cancel a pending clawback',
        params: byId,
        body: z.strictObject({}),
        response: json(200, 'the clawback', clawback),
        errors: { 409: 'CONFLICT' },
      },
      async (req, res, { params }) => {
        return res.json(await cancelClawback(db, contextOf(req), params.id));
      },
    ),
  ];
}
