import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';

/*
 * Jobs as the API shows them (DESIGN.md "Scale"): asked for with 202 and an id, read with their
 * progress, their result downloaded when done. A job belongs to whoever asked for it: to anyone else
 * it does not exist (404), like another department's objects.
 */
export type JobKind = 'statement_bundle' | 'audit_bundle';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'expired';

export interface JobRow {
  id: string;
  kind: JobKind;
  fund_id: string;
  requested_by: string;
  department_id: string | null;
  request_ip: string;
  status: JobStatus;
  done: number;
  total: number | null;
  attempts: number;
  worker: string | null;
  heartbeat_at: Date | null;
  error: string | null;
  units: string[];
  items: string[];
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  result_expires_at: Date | null;
}

/** Every column but the result's bytes, which only the download reads. */
export const jobColumns = [
  'id',
  'kind',
  'fund_id',
  'requested_by',
  'department_id',
  'request_ip',
  'status',
  'done',
  'total',
  'attempts',
  'worker',
  'heartbeat_at',
  'error',
  'units',
  'items',
  'created_at',
  'started_at',
  'finished_at',
  'result_expires_at',
];

export const jobPath = (id: string) => `/api/v1/jobs/${id}`;

export function jobView(j: JobRow) {
  return {
    id: String(j.id),
    kind: j.kind,
    fund_id: String(j.fund_id),
    status: j.status,
    done: j.done,
    total: j.total,
    attempts: j.attempts,
    error: j.error,
    created_at: j.created_at.toISOString(),
    started_at: j.started_at?.toISOString() ?? null,
    finished_at: j.finished_at?.toISOString() ?? null,
    result_expires_at: j.result_expires_at?.toISOString() ?? null,
    result_url: j.status === 'done' ? `${jobPath(String(j.id))}/result` : null,
  };
}

export type JobView = ReturnType<typeof jobView>;

/** Queues a job of `kind` for a fund; a statement bundle fixes the units it covers now, so its total is known at once. */
export async function requestJob(db: Knex, ctx: RequestContext, kind: JobKind, fundId: string): Promise<JobView> {
  const actor = ctx.actor!;
  return db.transaction(async (trx) => {
    const fund = await trx('funds').where({ id: fundId }).first('id');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    const units = kind === 'statement_bundle' ? (await trx('departments').orderBy('code').select('id')).map((d) => String(d.id)) : [];
    const [row] = await trx('jobs')
      .insert({
        kind,
        fund_id: fundId,
        requested_by: actor.id,
        department_id: actor.departmentId,
        request_ip: ctx.ip,
        units,
        total: kind === 'statement_bundle' ? units.length : null,
      })
      .returning(jobColumns);
    await recordAudit(trx, ctx, { action: 'job.request', objectType: 'job', objectId: row.id, after: { kind, fund_id: fundId, total: row.total } });
    return jobView(row as JobRow);
  });
}

/** The job, if `actor` asked for it; anyone else's is not found. */
export async function jobFor(db: Knex, actor: Actor, id: string): Promise<JobRow> {
  const row = await db('jobs').where({ id, requested_by: actor.id }).first(jobColumns);
  if (!row) throw new AppError('NOT_FOUND', '没有这项任务');
  return row as JobRow;
}

/** The actor's recent jobs, newest first (the pages list them). */
export async function recentJobs(db: Knex, actor: Actor, fundId: string, limit = 10): Promise<JobView[]> {
  const rows = await db('jobs').where({ requested_by: actor.id, fund_id: fundId }).orderBy('id', 'desc').limit(limit).select(jobColumns);
  return rows.map((r) => jobView(r as JobRow));
}
