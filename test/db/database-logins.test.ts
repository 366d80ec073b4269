import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKnex, prepareDatabase } from '../../db/connection.ts';
import { withCredentials } from '../../db/roles.ts';
import { createMigratedDatabase, dropDatabase, withDatabase } from '../support/databases.ts';
import { unique } from '../support/harness.ts';

/*
 * How the service decides its pool's login (README "Database logins"), on databases of their own:
 * a privileged DATABASE_URL makes the service create `<database>_app` and keep its password in
 * DATA_DIR; an unprivileged DATABASE_URL with MIGRATION_DATABASE_URL gets the pool's grants.
 */
const quiet = { info: () => undefined, warn: () => undefined };
let dataDir: string;
const dropped: string[] = [];
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'jiangbu-logins-'));
});
afterAll(async () => {
  for (const url of dropped) await dropDatabase(url);
  await rm(dataDir, { recursive: true, force: true });
});

async function emptyDatabase(): Promise<string> {
  const name = unique('jiangbu_logins_');
  const admin = createKnex(withDatabase(inject('serverUrl'), 'postgres'), 1, 60_000);
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(inject('serverUrl'), name);
  dropped.push(url);
  return url;
}

describe('the pool login', () => {
  it('with a privileged DATABASE_URL: the service creates <database>_app, keeps its password in DATA_DIR, and connects as it', async () => {
    const ownerUrl = await emptyDatabase();
    const poolUrl = await prepareDatabase({ databaseUrl: ownerUrl, migrationDatabaseUrl: undefined, dataDir }, ownerUrl, quiet);
    const name = new URL(ownerUrl).pathname.slice(1);
    expect(decodeURIComponent(new URL(poolUrl).username)).toBe(`${name}_app`);
    expect(existsSync(join(dataDir, 'pg-app-password'))).toBe(true);
    expect(decodeURIComponent(new URL(poolUrl).password)).toBe((await readFile(join(dataDir, 'pg-app-password'), 'utf8')).trim());
    // A second start finds the role and brings it back into shape with the same password.
    expect(await prepareDatabase({ databaseUrl: ownerUrl, migrationDatabaseUrl: undefined, dataDir }, ownerUrl, quiet)).toBe(poolUrl);
    const pool = createKnex(poolUrl, 1, 60_000);
    try {
      const { rows } = await pool.raw('SELECT current_user AS who, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su');
      expect(rows[0]).toEqual({ who: `${name}_app`, su: false });
      await expect(pool.raw('SET session_replication_role = replica')).rejects.toThrow(/permission denied/);
      expect(await pool('funds').count<{ n: string }[]>('* as n')).toEqual([{ n: '0' }]);
    } finally {
      await pool.destroy();
      await dropDatabase(ownerUrl);
      dropped.pop();
    }
  });

  it('with an unprivileged DATABASE_URL and MIGRATION_DATABASE_URL: migrated as the owner, the login gets only the pool grants', async () => {
    const ownerUrl = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_logins');
    dropped.push(ownerUrl);
    const login = unique('jiangbu_login_');
    const password = unique('pw');
    const owner = createKnex(ownerUrl, 1, 60_000);
    await owner.raw(`CREATE ROLE ${login} LOGIN PASSWORD '${password}'`);
    const loginUrl = withCredentials(ownerUrl, login, password);
    try {
      expect(await prepareDatabase({ databaseUrl: loginUrl, migrationDatabaseUrl: ownerUrl, dataDir }, ownerUrl, quiet)).toBe(loginUrl);
      const pool = createKnex(loginUrl, 1, 60_000);
      try {
        expect(await pool('funds').count<{ n: string }[]>('* as n')).toEqual([{ n: '0' }]);
        await expect(pool.raw('UPDATE postings SET amount = amount')).rejects.toThrow(/permission denied/);
        await expect(pool.raw('ALTER TABLE postings DISABLE TRIGGER ALL')).rejects.toThrow(/must be owner/);
      } finally {
        await pool.destroy();
      }
    } finally {
      await dropDatabase(ownerUrl);
      dropped.pop();
      await owner.destroy().catch(() => undefined);
      const admin = createKnex(withDatabase(inject('serverUrl'), 'postgres'), 1, 60_000);
      await admin.raw(`DROP ROLE IF EXISTS ${login}`);
      await admin.destroy();
    }
  });

  it('with an unprivileged DATABASE_URL that owns the tables and no MIGRATION_DATABASE_URL: refuses to start, in one line', async () => {
    const login = unique('jiangbu_owner_');
    const password = unique('pw');
    const name = unique('jiangbu_logins_');
    const admin = createKnex(withDatabase(inject('serverUrl'), 'postgres'), 1, 60_000);
    try {
      await admin.raw(`CREATE ROLE ${login} LOGIN PASSWORD '${password}'`);
      await admin.raw(`CREATE DATABASE ${name} OWNER ${login}`);
      const ownerUrl = withCredentials(withDatabase(inject('serverUrl'), name), login, password);
      await expect(prepareDatabase({ databaseUrl: ownerUrl, migrationDatabaseUrl: undefined, dataDir }, ownerUrl, quiet)).rejects.toThrow(
        /will not serve requests with the owner's rights.*MIGRATION_DATABASE_URL/,
      );
    } finally {
      await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.raw(`DROP ROLE IF EXISTS ${login}`);
      await admin.destroy();
    }
  });
});
