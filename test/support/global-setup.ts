import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/embedded.ts';
import { createMigratedDatabase, dropDatabase, poolUrlFor } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The pool's login (least privilege), as the service's requests use it. */
    databaseUrl: string;
    /** The owner's login, for tests that play the database owner. */
    ownerDatabaseUrl: string;
    serverUrl: string;
    filesDir: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * With DATABASE_URL the suite runs in a fresh database on that server, dropped afterwards;
 * without it, in an embedded PostgreSQL in a throw-away directory. Never in a server's own database.
 */
export default async function setup(project: TestProject) {
  const quiet = { info: () => undefined, warn: (m: string) => console.warn(m) };
  let serverUrl = process.env.DATABASE_URL;
  let stopEmbedded: () => Promise<void> = async () => undefined;
  let dataDir: string | undefined;
  if (!serverUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'jiangbu-test-'));
    const embedded = await startEmbeddedPostgres(dataDir, await freePort(), quiet);
    serverUrl = embedded.url;
    stopEmbedded = embedded.stop;
  }
  const ownerDatabaseUrl = await createMigratedDatabase(serverUrl);
  const databaseUrl = await poolUrlFor(ownerDatabaseUrl);
  const filesDir = await mkdtemp(join(tmpdir(), 'jiangbu-test-files-'));
  project.provide('databaseUrl', databaseUrl);
  project.provide('ownerDatabaseUrl', ownerDatabaseUrl);
  project.provide('filesDir', filesDir);
  project.provide('serverUrl', serverUrl);
  return async () => {
    await dropDatabase(ownerDatabaseUrl);
    await stopEmbedded();
    await rm(filesDir, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
