import { randomBytes } from 'node:crypto';
import knex, { type Knex } from 'knex';
import { createKnex } from '../../db/connection.ts';

/** Same server as `url`, another database name. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates an empty, migrated database on the server of `url` and returns its URL; tests that must not share one use this. */
export async function createMigratedDatabase(url: string, prefix = 'jiangbu_test'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: withDatabase(url, 'postgres'), pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const created = withDatabase(url, name);
  const db = createKnex(created, 2, 60_000);
  try {
    await db.migrate.latest();
  } finally {
    await db.destroy();
  }
  return created;
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin: Knex = knex({ client: 'pg', connection: withDatabase(url, 'postgres'), pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.destroy();
  }
}
