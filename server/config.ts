import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

export interface Config {
  port: number;
  databaseUrl: string | undefined;
  /** A streaming standby for read-only reports (docs/ha.md); read with the pool's login. */
  replicaDatabaseUrl: string | undefined;
  /** How stale a report read from the standby may be (ms); a standby further behind, or down, is skipped. */
  replicaMaxLagMs: number;
  /** The owner's login for migrations, when DATABASE_URL is the (unprivileged) pool's. */
  migrationDatabaseUrl: string | undefined;
  /** Append-only JSON lines of chain heads, outside the database (default DATA_DIR/witness.jsonl). */
  witnessFile: string;
  dataDir: string;
  embeddedPgPort: number;
  logLevel: string;
  uploadMaxBytes: number;
  tokenTtlHours: number;
  /** How long a signed-in session is kept in memory (0: never); revoked at once through LISTEN/NOTIFY (server/auth/session-cache.ts). */
  sessionCacheTtlMs: number;
  sessionCacheEntries: number;
  bootstrapAdminPassword: string | undefined;
  poolMax: number;
  statementTimeoutMs: number;
  /** Express 'trust proxy': set when behind a reverse proxy, so throttling and the audit log see the client's address. */
  trustProxy: string | false;
  /** How long an Idempotency-Key's response is kept and replayed (days); older keys are purged and may be used anew. */
  idempotencyTtlDays: number;
  /** Threads that render statements for jobs (bundles). */
  jobRenderThreads: number;
  /** Their nice value (0–19): higher yields the cores to the requests people wait for. */
  jobRenderNice: number;
  /** Days a finished job's result (a bundle zip) can be downloaded; the statements in it are kept for ever. */
  jobResultRetentionDays: number;
  /** V8's heap growing factor above what is live after a full collection, in percent (server/memory.ts); 0 leaves V8's own. */
  heapGrowingPercent: number;
  /** The office in a statement's 落款 (ISSUING_OFFICE). */
  issuingOffice: string;
  /** The bulletin's 发文机关 (BULLETIN_ISSUER) and the prefix of its 文号 (BULLETIN_DOCUMENT_PREFIX): 〔year〕N号 follows it. */
  bulletinIssuer: string;
  bulletinDocumentPrefix: string;
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const n = intFrom(env, name, fallback);
  if (n < 1) throw new Error(`${name} must be at least 1, got "${env[name]}"`);
  return n;
}

/** Reads the environment once, at start-up; a bad value stops the service with a clear message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: intFrom(env, 'PORT', 3000),
    databaseUrl: env.DATABASE_URL || undefined,
    migrationDatabaseUrl: env.MIGRATION_DATABASE_URL || undefined,
    replicaDatabaseUrl: env.DATABASE_REPLICA_URL || undefined,
    replicaMaxLagMs: positive(env, 'REPLICA_MAX_LAG_MS', 5_000),
    dataDir: resolve(env.DATA_DIR || './data'),
    witnessFile: resolve(env.WITNESS_FILE || join(resolve(env.DATA_DIR || './data'), 'witness.jsonl')),
    embeddedPgPort: intFrom(env, 'EMBEDDED_PG_PORT', 54329),
    logLevel: env.LOG_LEVEL || 'info',
    uploadMaxBytes: intFrom(env, 'UPLOAD_MAX_BYTES', 10 * 1024 * 1024),
    tokenTtlHours: intFrom(env, 'TOKEN_TTL_HOURS', 8),
    sessionCacheTtlMs: intFrom(env, 'SESSION_CACHE_TTL_MS', 5_000),
    sessionCacheEntries: positive(env, 'SESSION_CACHE_ENTRIES', 10_000),
    bootstrapAdminPassword: env.BOOTSTRAP_ADMIN_PASSWORD || undefined,
    // Four connections per core keep PostgreSQL busy without thrashing; the ledger serialises per fund anyway.
    poolMax: intFrom(env, 'DB_POOL_MAX', Math.max(4, availableParallelism() * 4)),
    statementTimeoutMs: intFrom(env, 'DB_STATEMENT_TIMEOUT_MS', 30_000),
    trustProxy: env.TRUST_PROXY || false,
    idempotencyTtlDays: positive(env, 'IDEMPOTENCY_TTL_DAYS', 7),
    // One core left to the event loop and PostgreSQL: on 2 cores one renderer draws 5,000 statements in
    // about 2 minutes (~24 ms CPU each), and a second costs ~170 MiB of memory for little.
    jobRenderThreads: Math.max(1, intFrom(env, 'JOB_RENDER_THREADS', availableParallelism() - 1)),
    jobRenderNice: Math.min(19, intFrom(env, 'JOB_RENDER_NICE', 10)),
    jobResultRetentionDays: Math.max(1, intFrom(env, 'JOB_RESULT_RETENTION_DAYS', 7)),
    heapGrowingPercent: intFrom(env, 'HEAP_GROWING_PERCENT', 25),
    ...documentIssuer(env),
  };
}

/** Who signs the documents, from the environment; the defaults name the offices of the 2011 case. */
export function documentIssuer(env: NodeJS.ProcessEnv = {}): Pick<Config, 'issuingOffice' | 'bulletinIssuer' | 'bulletinDocumentPrefix'> {
  const text = (name: string, fallback: string) => {
    const v = env[name]?.trim();
    if (v === undefined || v === '') return fallback;
    if (v.length > 100) throw new Error(`${name} must be at most 100 characters`);
    return v;
  };
  return {
    issuingOffice: text('ISSUING_OFFICE', '自治区财政厅'),
    bulletinIssuer: text('BULLETIN_ISSUER', '自治区软件正版化工作领导小组办公室'),
    bulletinDocumentPrefix: text('BULLETIN_DOCUMENT_PREFIX', '新软正办'),
  };
}
