import { randomBytes } from 'node:crypto';
import knex, { type Knex } from 'knex';
import { createKnex } from '../../db/connection.ts';
import { ensurePoolRole, poolRoleFor } from '../../db/roles.ts';

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

/**
 * The URL the service's request pool would use for the database at `ownerUrl`: its own role, which
 * owns nothing and has only the pool's grants (db/roles.ts), so a missing grant fails a test.
 */
export async function poolUrlFor(ownerUrl: string): Promise<string> {
  const owner = createKnex(ownerUrl, 1, 60_000, 'jiangbu-migrate');
  try {
    return await ensurePoolRole(owner, ownerUrl, poolRoleFor(new URL(ownerUrl).pathname.slice(1)), randomBytes(18).toString('base64url'));
  } finally {
    await owner.destroy();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin: Knex = knex({ client: 'pg', connection: withDatabase(url, 'postgres'), pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.raw(`DROP ROLE IF EXISTS ${poolRoleFor(name)}`);
  } finally {
    await admin.destroy();
  }
}
