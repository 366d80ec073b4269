import type { Request } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { actorOf, contextOf } from '../http/context.ts';
import { file, json, mediaTypes, route, written, type JsonReply } from '../http/route.ts';
import { job as jobOut } from './responses/jobs.ts';
import { idParam } from '../http/schemas.ts';
import { sendJobResult } from '../jobs/job-result.ts';
import { jobFor, jobPath, jobView, requestJob, type JobKind } from '../jobs/jobs.ts';

export interface JobQueue {
  /** A job was queued: the runner looks now rather than at its next poll. */
  wake(): void;
}

export function jobRoutes(db: Knex, queue: JobQueue | undefined) {
  const ask = (kind: JobKind) => async (req: Request, res: JsonReply<z.output<typeof jobOut>>, fundId: string) => {
    const job = await requestJob(db, contextOf(req), kind, fundId);
    queue?.wake();
    res.location(jobPath(job.id));
    return res.status(202).json(job);
  };
  const askForStatements = ask('statement_bundle');
  const askForAuditBundle = ask('audit_bundle');
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/statements/bundle',
        action: 'statements.read',
        tag: 'jobs',
        summary: 'Every unit’s statement in one zip, built as a job: 202 {id}; follow Location (GET /api/v1/jobs/:id) until status is done',
        params: z.strictObject({ id: idParam }),
        response: json(202, 'the queued job; Location is where to follow it', jobOut),
      },
      async (req, res, { params }) => askForStatements(req, res, params.id),
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/funds/:id/audit-bundle',
        action: 'ledger.read',
        tag: 'jobs',
        summary: 'The offline audit bundle built as a job (for funds too large to wait for GET …/audit-bundle.zip): 202 {id}, with Location',
        params: z.strictObject({ id: idParam }),
        response: json(202, 'the queued job; Location is where to follow it', jobOut),
      },
      async (req, res, { params }) => askForAuditBundle(req, res, params.id),
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/jobs/:id',
        action: 'jobs.read',
        tag: 'jobs',
        summary: 'A job you asked for: {status: queued|running|done|failed|expired, done, total, error, result_url}',
        params: z.strictObject({ id: idParam }),
        response: json(200, 'the job and its progress', jobOut),
        errors: { 404: 'NOT_FOUND: no such job, or someone else’s' },
      },
      async (req, res, { params }) => {
        return res.json(jobView(await jobFor(db, actorOf(req), params.id)));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/jobs/:id/result',
        action: 'jobs.read',
        tag: 'jobs',
        summary: 'A finished job’s result (a zip)',
        params: z.strictObject({ id: idParam }),
        response: file('the zip', mediaTypes.zip),
        errors: {
          404: 'NOT_FOUND: no such job, or someone else’s',
          409: 'JOB_NOT_FINISHED: still queued or running, or failed',
          410: 'JOB_EXPIRED: past its retention; ask again',
        },
      },
      async (req, res, { params }) => {
        await sendJobResult(db, contextOf(req), await jobFor(db, actorOf(req), params.id), res);
        return written(res);
      },
    ),
  ];
}
