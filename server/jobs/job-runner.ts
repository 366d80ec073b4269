import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import type { Actor } from '../auth/roles.ts';
import { writeAuditBundle } from '../bundle/audit-bundle.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { jobColumns, type JobRow } from './jobs.ts';
import { createRenderPool } from './render-pool.ts';
import { runStatementBundle, type JobProgress } from './statement-bundle.ts';
import { documentIssuer } from '../config.ts';
import type { Issuer } from '../../reports/statement-model.ts';

/*
 * Runs queued jobs (DESIGN.md "Scale"). A job is claimed with FOR UPDATE SKIP LOCKED, so several
 * services on one database never run the same job twice; while it runs, its heartbeat is refreshed.
 * A job whose heartbeat is older than stale_ms lost its worker (the process died, the machine
 * rebooted) and is claimed again: a statement bundle resumes at the chunk it had reached, an audit
 * bundle starts again. After attempts_max claims it fails, with the reason shown: a job never vanishes.
 */
export interface JobRunnerOptions {
  db: Knex;
  witnessFile: string;
  log: { info(msg: string): void; warn(msg: string): void };
  /** Rendering threads for statements. */
  threads: number;
  /** Their nice value (render-pool.ts); 0, the process's priority, when absent. */
  renderNice?: number;
  /** The office in the statements' 落款 (ISSUING_OFFICE); the configured default when absent. */
  issuer?: Issuer;
  /** How long a finished job's result can be downloaded. */
  retention_ms: number;
  heartbeat_ms?: number;
  stale_ms?: number;
  /** Units a statement bundle issues in one transaction (tests use few). */
  chunk_units?: number;
  poll_ms?: number;
  attempts_max?: number;
}

export interface JobRunner {
  /** A job was queued: look now rather than at the next poll. */
  wake(): void;
  /** Finishes the chunk in hand and stops; the job stays running until its heartbeat goes stale, then another worker resumes it. */
  stop(): Promise<void>;
}

class LostJob extends Error {}

/** Claims the oldest job that is waiting or whose worker stopped beating; undefined when there is none. */
export async function claimJob(db: Knex, worker: string, stale_ms: number, attempts_max: number): Promise<JobRow | undefined> {
  return db.transaction(async (trx) => {
    const candidate = await trx('jobs')
      .where((q) =>
        q
          .where('status', 'queued')
          .orWhere((r) => r.where('status', 'running').where('heartbeat_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [stale_ms / 1000]))),
      )
      .orderBy('id')
      .forUpdate()
      .skipLocked()
      .first('id', 'attempts');
    if (!candidate) return undefined;
    if (candidate.attempts >= attempts_max) {
      await trx('jobs')
        .where({ id: candidate.id })
        .update({
          status: 'failed',
          finished_at: trx.fn.now(),
          error: `任务已尝试 ${candidate.attempts} 次，每次都未能完成（执行它的服务停止或中断），请重新生成`,
        });
      return undefined;
    }
    const [row] = await trx('jobs')
      .where({ id: candidate.id })
      .update({ status: 'running', worker, heartbeat_at: trx.fn.now(), attempts: trx.raw('attempts + 1'), started_at: trx.raw('coalesce(started_at, now())') })
      .returning(jobColumns);
    return row as JobRow;
  });
}

/** Marks finished results expired: the statements stay (they are records), the bundle's list and an audit bundle's bytes go. */
export async function expireJobResults(db: Knex): Promise<number> {
  return db('jobs')
    .where('status', 'done')
    .where('result_expires_at', '<', db.fn.now())
    .update({ status: 'expired', items: '{}', result: null, result_sha256: null });
}

async function requesterContext(db: Knex, job: JobRow): Promise<RequestContext> {
  const user = await db('users').where({ id: job.requested_by }).first('id', 'username', 'role', 'department_id');
  const actor: Actor = {
    id: String(user.id),
    username: user.username,
    role: user.role,
    departmentId: user.department_id == null ? null : String(user.department_id),
    sessionId: '',
  };
  return { actor, requestId: `job-${job.id}`, ip: job.request_ip };
}

async function buildAuditBundle(db: Knex, job: JobRow, ctx: RequestContext, witnessFile: string): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'jiangbu-job-'));
  try {
    const path = join(dir, 'audit-bundle.zip');
    const out = createWriteStream(path);
    await writeAuditBundle(db, ctx, String(job.fund_id), witnessFile, out);
    await finished(out);
    return await readFile(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function startJobRunner(o: JobRunnerOptions): JobRunner {
  const worker = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const heartbeat_ms = o.heartbeat_ms ?? 5_000;
  const stale_ms = o.stale_ms ?? 30_000;
  const poll_ms = o.poll_ms ?? 2_000;
  const attempts_max = o.attempts_max ?? 3;
  const pool = createRenderPool(o.threads, o.renderNice ?? 0);
  let stopping = false;
  let wakeUp: (() => void) | undefined;
  let lastSweep_ms = 0;

  async function run(job: JobRow): Promise<void> {
    let lost = false;
    const mine = (q: Knex.QueryBuilder) => q.where({ id: job.id, worker, status: 'running' });
    const beat = setInterval(() => {
      mine(o.db('jobs'))
        .update({ heartbeat_at: o.db.fn.now() })
        .then((n: number) => {
          if (n === 0) lost = true;
        })
        .catch(() => undefined);
    }, heartbeat_ms);
    const progress: JobProgress = {
      async advance(trx, done, items) {
        const n = await mine(trx('jobs')).update({ done, items: trx.raw('items || ?::bigint[]', [items]), heartbeat_at: trx.fn.now() });
        if (n === 0) throw new LostJob();
      },
      stopped: () => stopping || lost,
    };
    try {
      const ctx = await requesterContext(o.db, job);
      if (job.kind === 'statement_bundle') {
        await runStatementBundle(o.db, job, ctx, pool, o.witnessFile, progress, o.issuer ?? { office: documentIssuer().issuingOffice }, o.chunk_units);
        if (stopping || lost) return;
        await mine(o.db('jobs')).update({ status: 'done', finished_at: o.db.fn.now(), result_expires_at: new Date(Date.now() + o.retention_ms) });
      } else {
        const zip = await buildAuditBundle(o.db, job, ctx, o.witnessFile);
        const sha256 = createHash('sha256').update(zip).digest('hex');
        await mine(o.db('jobs')).update({
          status: 'done',
          result: zip,
          result_sha256: sha256,
          finished_at: o.db.fn.now(),
          result_expires_at: new Date(Date.now() + o.retention_ms),
        });
      }
      o.log.info(`job ${job.id} (${job.kind}) done`);
    } catch (e) {
      if (e instanceof LostJob) return;
      // A job that cannot be done says why; the database being away is not the job's fault: it stays running and is resumed.
      if (e instanceof AppError && e.code === 'UNAVAILABLE') throw e;
      const detail = e instanceof AppError ? e.message : `生成时出错：${e instanceof Error ? e.message : String(e)}`;
      o.log.warn(`job ${job.id} (${job.kind}) failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      await mine(o.db('jobs')).update({ status: 'failed', error: detail.slice(0, 2000), finished_at: o.db.fn.now() });
    } finally {
      clearInterval(beat);
    }
  }

  const loop = (async () => {
    while (!stopping) {
      try {
        if (Date.now() - lastSweep_ms > 60_000) {
          lastSweep_ms = Date.now();
          const n = await expireJobResults(o.db);
          if (n > 0) o.log.info(`${n} job result(s) expired`);
        }
        const job = await claimJob(o.db, worker, stale_ms, attempts_max);
        if (job) {
          await run(job);
          continue;
        }
      } catch (e) {
        o.log.warn(`jobs: ${e instanceof Error ? e.message : String(e)}; trying again`);
      }
      await Promise.race([sleep(poll_ms), new Promise<void>((resolve) => (wakeUp = resolve))]);
    }
  })();

  return {
    wake: () => wakeUp?.(),
    async stop() {
      stopping = true;
      wakeUp?.();
      await loop;
      await pool.close();
    },
  };
}
