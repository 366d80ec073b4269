import knex, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../server/config.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrationSource } from './migrations/index.ts';

// NUMERIC and BIGINT stay strings: money must never pass through a JS number.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);
// Calendar dates carry no time zone; keep them as 'YYYY-MM-DD'.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export interface Database {
  knex: Knex;
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
const knexLog = (message: unknown) => {
  if (process.env.LOG_LEVEL === 'debug') console.warn('knex:', message);
};

export function createKnex(url: string, poolMax: number, statementTimeoutMs: number): Knex {
  return knex({
    log: { warn: knexLog, error: knexLog, deprecate: knexLog, debug: knexLog },
    client: 'pg',
    connection: {
      connectionString: url,
      statement_timeout: statementTimeoutMs,
      idle_in_transaction_session_timeout: statementTimeoutMs * 2,
      application_name: 'jiangbu',
    } as Knex.PgConnectionConfig,
    pool: { min: 0, max: poolMax },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
}

/** Opens the configured database (DATABASE_URL, or the embedded cluster under DATA_DIR) and migrates it. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
  const url = config.databaseUrl ?? embedded!.url;
  const db = createKnex(url, config.poolMax, config.statementTimeoutMs);
  try {
    await db.migrate.latest();
  } catch (e) {
    await db.destroy();
    await embedded?.stop();
    throw e;
  }
  return {
    knex: db,
    url,
    embedded: embedded !== undefined,
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
