import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../server/config.ts';
import { claimDataDir, startEmbeddedPostgres } from './embedded.ts';
import { ensureWritableDir } from './data-dir.ts';
import { migrationSource } from './migrations/index.ts';
import { applyGrants, canManageRoles, ensurePoolRole, hardenSchema, poolLoginProblem, poolRoleFor, userOf, withCredentials } from './roles.ts';
import { StartupError } from '../server/startup-error.ts';
import { hostChooser, noSuitableHost, type HostChooser, parseDatabaseUrl, sessionState, splitHosts, suits, targetSessionAttrsOf } from './multi-host.ts';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// NUMERIC and BIGINT stay strings: money must never pass through a JS number.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);
// Calendar dates carry no time zone; keep them as 'YYYY-MM-DD'.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export interface Database {
  knex: Knex;
  /** The standby's pool (DATABASE_REPLICA_URL), for read-only reports (server/db/read-pool.ts). */
  replica: Knex | undefined;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

// knex prints pool errors ("Acquire connection error …") to the console on its own; they reach the caller
// as rejections anyway, so its log speaks only with LOG_LEVEL=debug.
const connectTimeout_ms = 10_000;

const knexLog = (message: unknown) => {
  if (process.env.LOG_LEVEL === 'debug') console.warn('knex:', message);
};

/** The host chooser of each pool on a multi-host URL (db/multi-host.ts). */
const choosers = new WeakMap<Knex, HostChooser>();

/** Makes a multi-host pool choose its host again and drop its connections to the old one (a promoted standby). */
export function forgetHost(db: Knex): void {
  choosers.get(db)?.forget();
}

export function createKnex(url: string, poolMax: number, statementTimeoutMs: number, applicationName = 'jiangbu'): Knex {
  const settings = {
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs * 2,
    application_name: applicationName,
    // A host that does not answer fails the connection (503) rather than holding the request.
    connectionTimeoutMillis: connectTimeout_ms,
  };
  const single = splitHosts(url).hosts.length <= 1 && targetSessionAttrsOf(url) === 'any';
  const chooser = single ? undefined : hostChooser(url);
  const checksRole = chooser && chooser.want !== 'any' && chooser.want !== 'prefer-standby';
  const db = knex({
    log: { warn: knexLog, error: knexLog, deprecate: knexLog, debug: knexLog },
    client: 'pg',
    // Several hosts (db/multi-host.ts): each new connection goes to the host chosen now, so after a failover new connections reach the new primary.
    connection: chooser
      ? async () => {
          const picked = await chooser.pick();
          // Once the choice is forgotten (a connection failed), knex asks again and drops the pooled connections made to the old host.
          return { ...settings, connectionString: picked, expirationChecker: () => chooser.current() !== picked };
        }
      : ({ ...settings, connectionString: url } as Knex.PgConnectionConfig),
    pool: {
      min: 0,
      max: poolMax,
      ...(chooser
        ? {
            afterCreate(conn: pg.Client, done: (e: Error | null, c: pg.Client) => void) {
              // The chosen host may have been demoted since it was chosen: a connection that is not what was asked for is refused (503) and the host chosen again.
              conn.on('error', () => chooser.forget());
              if (!checksRole) return done(null, conn);
              sessionState(conn).then(
                (state) => {
                  if (suits(chooser.want, state)) return done(null, conn);
                  chooser.forget();
                  done(noSuitableHost(`the chosen host is ${state.inRecovery ? 'a standby' : 'read-only'} now`), conn);
                },
                (e: Error) => {
                  chooser.forget();
                  done(e, conn);
                },
              );
            },
          }
        : {}),
    },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
  if (chooser) choosers.set(db, chooser);
  return db;
}

async function poolPassword(dataDir: string): Promise<string> {
  const file = join(dataDir, 'pg-app-password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  await mkdir(dataDir, { recursive: true });
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * Migrates as the owner and decides the pool's login (DESIGN.md "Tamper evidence beyond the database"):
 * - MIGRATION_DATABASE_URL set: it is the owner's; DATABASE_URL is the pool's, granted what it needs;
 * - otherwise, when the owner (embedded superuser, or a privileged DATABASE_URL) may manage roles, the
 *   service creates or updates the pool role `<database>_app` with a password kept in DATA_DIR;
 * - otherwise it refuses to start: the service never works with the owner's rights (DESIGN.md).
 */
export async function prepareDatabase(
  config: Pick<Config, 'databaseUrl' | 'migrationDatabaseUrl' | 'dataDir'>,
  ownerUrl: string,
  _log: Logger,
): Promise<string> {
  const owner = createKnex(ownerUrl, 2, 10 * 60_000, 'jiangbu-migrate');
  try {
    await owner.migrate.latest();
    // Every start: functions of any migration get their pinned search_path, PUBLIC no TEMP or CREATE.
    await hardenSchema(owner);
    if (config.migrationDatabaseUrl && config.databaseUrl) {
      const role = userOf(config.databaseUrl);
      if (role !== userOf(ownerUrl)) await applyGrants(owner, role);
      return config.databaseUrl;
    }
    if (await canManageRoles(owner)) {
      const database = decodeURIComponent(parseDatabaseUrl(ownerUrl).pathname.slice(1));
      return await ensurePoolRole(owner, ownerUrl, poolRoleFor(database), await poolPassword(config.dataDir));
    }
    throw new StartupError(
      "DATABASE_URL's login owns the tables but cannot create the pool's role, and no MIGRATION_DATABASE_URL is set: the service will not serve requests with the owner's rights (they could switch the ledger guards off); set MIGRATION_DATABASE_URL to this owner login and DATABASE_URL to a login that owns nothing",
    );
  } finally {
    await owner.destroy();
  }
}

/** Opens the configured database (DATABASE_URL, or the embedded cluster under DATA_DIR), migrates it as the owner and connects the pool. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  // DATA_DIR is claimed in both modes: with DATABASE_URL it still holds the witness file and the scans.
  let released: (() => Promise<void>) | undefined;
  if (config.databaseUrl) {
    await ensureWritableDir(config.dataDir);
    released = await claimDataDir(config.dataDir);
  }
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
  const ownerUrl = config.migrationDatabaseUrl ?? config.databaseUrl ?? embedded!.url;
  let url: string;
  try {
    url = await prepareDatabase(config, ownerUrl, log);
  } catch (e) {
    await embedded?.stop();
    await released?.();
    throw e;
  }
  const db = createKnex(url, config.poolMax, config.statementTimeoutMs);
  // The pool's login, when it is not the owner's, must be unable to reach round the guards.
  if (url !== ownerUrl) {
    const problem = await poolLoginProblem(db).catch(async (e: unknown) => {
      await db.destroy();
      await embedded?.stop();
      await released?.();
      throw e;
    });
    if (problem) {
      await db.destroy();
      await embedded?.stop();
      await released?.();
      throw new StartupError(`${problem}: refusing to serve with it`);
    }
  }
  // The standby is a copy of this database: it is read with the pool's own login, at its hosts.
  const pool = parseDatabaseUrl(url);
  const replica = config.replicaDatabaseUrl
    ? createKnex(
        withCredentials(config.replicaDatabaseUrl, decodeURIComponent(pool.username), pool.password ? decodeURIComponent(pool.password) : undefined),
        config.poolMax,
        config.statementTimeoutMs,
        'jiangbu-replica',
      )
    : undefined;
  return {
    knex: db,
    replica,
    url,
    embedded: embedded !== undefined,
    async close() {
      await replica?.destroy();
      await db.destroy();
      await embedded?.stop();
      await released?.();
    },
  };
}
