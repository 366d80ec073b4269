import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Knex } from 'knex';
import { forgetHost } from '../../db/connection.ts';
import { sessionToken } from '../ui/session.ts';

/*
 * Which pool a read-only report reads (DESIGN.md "Scale", docs/ha.md): the standby of DATABASE_REPLICA_URL
 * when it is fresh enough and has everything this session wrote, the primary otherwise.
 *
 * Freshness is proven with WAL positions, never guessed from clocks. Once a second the primary's flushed
 * WAL position is sampled (pg_current_wal_flush_lsn(), with the time the sample was taken) and the
 * standby's replayed position read (pg_last_wal_replay_lsn()). The standby then holds everything the
 * primary had flushed at the time of the newest sample it has replayed: that time is `caughtUp_ms`.
 * - Lag bound: a report may come from the standby only while now − caughtUp_ms ≤ REPLICA_MAX_LAG_MS; a
 *   standby that does not answer, lags, or was promoted is skipped (one warning when it changes).
 * - Read-your-writes: a session's write (any request but GET/HEAD/OPTIONS) is committed before its
 *   answer is sent, so every sample taken after the answer has a position at or past that commit. The
 *   session reads the primary while a write of its own is in flight and until caughtUp_ms passes the end
 *   of its last write: about a second after a write, then the standby again. No query per write.
 * The sessions are those of this process: several instances behind a balancer need session affinity.
 */

/** The standby as its probe sees it. */
export interface ReplicaProbe {
  /** pg_is_in_recovery(): false once it was promoted (then it is skipped). */
  standby: boolean;
  /** pg_last_wal_replay_lsn(), or null when not a standby. */
  replayLsn: bigint | null;
}

export type ReadPool = 'primary' | 'replica';

export interface ReadRoutingOptions {
  primary: Knex;
  /** The standby's pool (DATABASE_REPLICA_URL); without one every read goes to the primary. */
  replica?: Knex | undefined;
  maxLag_ms: number;
  /** How often the standby and the primary's position are sampled (1 s). */
  check_ms?: number;
  log: { warn(msg: string): void; info(msg: string): void };
  /** How the standby is asked; tests force "lagging" or "down" here. */
  probeReplica?: () => Promise<ReplicaProbe>;
  /** Called with each choice: tests see which pool served a request. */
  onChoice?: (req: Request, pool: ReadPool, reason: string) => void;
}

export interface ReadRouter {
  /** The pool the read-only report of this request reads. */
  pick(req: Request): Knex;
  /** Middleware: notes the writes of each session (read-your-writes). */
  notesWrites: RequestHandler;
  /** One sample of the primary and the standby (the timer calls it every check_ms). */
  check(): Promise<void>;
  status(): { usable: boolean; lag_ms: number | null; problem: string | null };
  /** Starts sampling every check_ms. */
  start(): ReadRouter;
  stop(): void;
}

declare module 'express-serve-static-core' {
  interface Request {
    readRouter?: ReadRouter;
  }
}

/** The pool a read-only report reads: the standby when it is fresh and has this session's writes, else the primary. */
export function readDb(req: Request): Knex {
  if (!req.readRouter) throw new Error('readDb: no read router installed (server/app.ts)');
  return req.readRouter.pick(req);
}

/** 'X/Y' (pg_lsn as text) as one number. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(text);
  if (!m) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

async function probeStandby(replica: Knex): Promise<ReplicaProbe> {
  const { rows } = await replica.raw(`SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replay`);
  const row = rows[0] as { standby: boolean; replay: string | null };
  return { standby: row.standby, replayLsn: row.standby && row.replay ? parseLsn(row.replay) : null };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The session a request belongs to: its bearer token or its page cookie (hashed: no token is kept). */
function sessionOf(req: Request): string | undefined {
  const bearer = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const token = bearer ?? sessionToken(req);
  return token ? createHash('sha256').update(token).digest('base64url') : undefined;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export function readRouter(options: ReadRoutingOptions): ReadRouter {
  const { primary, replica, maxLag_ms, log } = options;
  const check_ms = options.check_ms ?? 1_000;
  const probeReplica = options.probeReplica ?? (() => probeStandby(replica!));
  /** The primary's flushed WAL position over the last seconds, oldest first. */
  const samples: Array<{ at_ms: number; lsn: bigint }> = [];
  const keep_ms = maxLag_ms + 2 * check_ms;
  let caughtUp_ms = -Infinity;
  let lag_ms: number | null = null;
  let problem: string | null = replica ? 'not checked yet' : 'no DATABASE_REPLICA_URL';
  const sessions = new Map<string, { pending: number; wrote_ms: number }>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** One warning when the standby starts being skipped or is skipped for another kind of reason, not one a second. */
  function setProblem(next: string | null) {
    const kind = (p: string | null) => p?.split(' ')[0] ?? null;
    if (next !== null && kind(problem) !== kind(next)) log.warn(`reports read the primary: the standby (DATABASE_REPLICA_URL) ${next}`);
    if (next === null && problem !== null) log.info('reports read the standby (DATABASE_REPLICA_URL)');
    problem = next;
  }

  async function check(): Promise<void> {
    if (!replica) return;
    const at_ms = Date.now();
    try {
      const { rows } = await withTimeout(primary.raw(`SELECT pg_current_wal_flush_lsn()::text AS lsn`), check_ms);
      samples.push({ at_ms, lsn: parseLsn((rows[0] as { lsn: string }).lsn) });
    } catch {
      // The primary is away (a failover): no new sample, so the standby's proven freshness only ages.
    }
    while (samples.length > 1 && samples[0]!.at_ms < at_ms - keep_ms) samples.shift();
    let probe: ReplicaProbe;
    try {
      probe = await withTimeout(probeReplica(), check_ms);
    } catch (e) {
      lag_ms = null;
      return setProblem(`does not answer (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!probe.standby || probe.replayLsn === null) {
      lag_ms = null;
      // Promoted: the pool lets go of that host and chooses again, so it finds the next standby (db/multi-host.ts).
      if (replica) forgetHost(replica);
      return setProblem('is not a standby (promoted?)');
    }
    // From this probe alone: after a failover the pool may be on another standby, further behind.
    caughtUp_ms = -Infinity;
    for (const s of samples) if (s.lsn <= probe.replayLsn && s.at_ms > caughtUp_ms) caughtUp_ms = s.at_ms;
    lag_ms = Math.max(0, Date.now() - caughtUp_ms);
    for (const [key, s] of sessions) if (s.pending === 0 && s.wrote_ms < caughtUp_ms) sessions.delete(key);
    setProblem(lag_ms > maxLag_ms ? `lags ${Number.isFinite(lag_ms) ? `${lag_ms} ms` : 'beyond the samples kept'} (REPLICA_MAX_LAG_MS=${maxLag_ms})` : null);
  }

  function choose(req: Request): [ReadPool, string] {
    if (!replica) return ['primary', 'no standby configured'];
    // Judged at the time of the request: a probe that hangs cannot keep a stale standby in use.
    if (problem !== null || Date.now() - caughtUp_ms > maxLag_ms) return ['primary', `standby skipped: ${problem ?? 'lags'}`];
    const key = sessionOf(req);
    const s = key === undefined ? undefined : sessions.get(key);
    if (s && (s.pending > 0 || s.wrote_ms >= caughtUp_ms)) return ['primary', 'read-your-writes'];
    return ['replica', 'standby fresh'];
  }

  const router: ReadRouter = {
    pick(req) {
      const [pool, reason] = choose(req);
      options.onChoice?.(req, pool, reason);
      return pool === 'replica' ? replica! : primary;
    },
    notesWrites(req, res, next) {
      const key = replica && !safeMethods.has(req.method) ? sessionOf(req) : undefined;
      if (key !== undefined) {
        const s = sessions.get(key) ?? { pending: 0, wrote_ms: 0 };
        sessions.set(key, s);
        s.pending++;
        // 'close' follows the answer (after the commit), or a dropped connection.
        res.once('close', () => {
          s.pending--;
          s.wrote_ms = Date.now();
          sessions.set(key, s);
        });
      }
      next();
    },
    check,
    status: () => ({ usable: replica !== undefined && problem === null && Date.now() - caughtUp_ms <= maxLag_ms, lag_ms, problem }),
    start() {
      if (!replica || timer || stopped) return router;
      const loop = () => {
        void check().finally(() => {
          if (!stopped) timer = setTimeout(loop, check_ms).unref();
        });
      };
      loop();
      return router;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
  return router;
}
