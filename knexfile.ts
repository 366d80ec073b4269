// For the knex CLI and tools that expect a knexfile; the service itself migrates through db/connection.ts.
import type { Knex } from 'knex';
import { migrationSource } from './db/migrations/index.ts';

const config: Knex.Config = {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: { migrationSource, tableName: 'knex_migrations' },
};

export default config;
