import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

export interface Config {
  port: number;
  databaseUrl: string | undefined;
  /** The owner's login for migrations, when DATABASE_URL is the (unprivileged) pool's. */
  migrationDatabaseUrl: string | undefined;
  /** Append-only JSON lines of chain heads, outside the database (default DATA_DIR/witness.jsonl). */
  witnessFile: string;
  dataDir: string;
  embeddedPgPort: number;
  logLevel: string;
  uploadMaxBytes: number;
  tokenTtlHours: number;
  bootstrapAdminPassword: string | undefined;
  poolMax: number;
  statementTimeoutMs: number;
  /** Express 'trust proxy': set when behind a reverse proxy, so throttling and the audit log see the client's address. */
  trustProxy: string | false;
  /** How long an Idempotency-Key's response is kept and replayed (days); older keys are purged and may be used anew. */
  idempotencyTtlDays: number;
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
    dataDir: resolve(env.DATA_DIR || './data'),
    witnessFile: resolve(env.WITNESS_FILE || join(resolve(env.DATA_DIR || './data'), 'witness.jsonl')),
    embeddedPgPort: intFrom(env, 'EMBEDDED_PG_PORT', 54329),
    logLevel: env.LOG_LEVEL || 'info',
    uploadMaxBytes: intFrom(env, 'UPLOAD_MAX_BYTES', 10 * 1024 * 1024),
    tokenTtlHours: intFrom(env, 'TOKEN_TTL_HOURS', 8),
    bootstrapAdminPassword: env.BOOTSTRAP_ADMIN_PASSWORD || undefined,
    // Four connections per core keep PostgreSQL busy without thrashing; the ledger serialises per fund anyway.
    poolMax: intFrom(env, 'DB_POOL_MAX', Math.max(4, availableParallelism() * 4)),
    statementTimeoutMs: intFrom(env, 'DB_STATEMENT_TIMEOUT_MS', 30_000),
    trustProxy: env.TRUST_PROXY || false,
    idempotencyTtlDays: positive(env, 'IDEMPOTENCY_TTL_DAYS', 7),
  };
}
