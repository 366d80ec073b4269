import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { pino } from 'pino';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKnex, prepareDatabase } from '../../db/connection.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../db/embedded.ts';
import { createApp } from '../../server/app.ts';
import { freePort } from '../support/global-setup.ts';
import { makeFund, makeUser } from '../support/harness.ts';

/*
 * PostgreSQL killed under load: every request answers 503 UNAVAILABLE with Retry-After (never 500)
 * while it is down, and the service recovers by itself when it is back. An embedded PostgreSQL of
 * its own, so the test can stop it.
 */
const quiet = { info: () => undefined, warn: () => undefined };
let dataDir: string;
let port: number;
let pg: EmbeddedDatabase;
let db: Knex;
let api: ReturnType<typeof supertest>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'jiangbu-outage-'));
  port = await freePort();
  pg = await startEmbeddedPostgres(dataDir, port, quiet);
  const poolUrl = await prepareDatabase({ databaseUrl: undefined, migrationDatabaseUrl: undefined, dataDir }, pg.url, quiet);
  db = createKnex(poolUrl, 8, 10_000);
  const app = createApp({ db, config: { tokenTtlHours: 8, uploadMaxBytes: 1 << 20, trustProxy: false, dataDir }, logger: pino({ level: 'silent' }) });
  api = supertest(app);
}, 120_000);
afterAll(async () => {
  await db?.destroy();
  await pg?.stop().catch(() => undefined);
  await rm(dataDir, { recursive: true, force: true });
});

describe('the database goes away under load', () => {
  it('answers 503 with Retry-After, never 500, and recovers when PostgreSQL is back', async () => {
    const accountant = await makeUser(db, 'accountant');
    const h = { db, app: undefined as never, api, close: async () => undefined, witnessFile: join(dataDir, 'witness.jsonl') };
    const fundId = await makeFund(h, accountant, '1000.00');
    const statuses = new Map<number, number>();
    const retryAfter = new Set<string>();
    let load = true;
    const requests = [
      () => api.get(`/api/v1/funds/${fundId}`).set(accountant.auth),
      () => api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(accountant.auth),
      () => api.post('/api/v1/auth/login').send({ username: accountant.username, password: 'not the password' }),
      () => api.get('/healthz'),
      () => api.get('/funds').set('Cookie', `jb_session=${accountant.token}`),
    ];
    const clients = Array.from({ length: 6 }, async (_, i) => {
      for (let n = 0; load; n++) {
        const res = await requests[(i + n) % requests.length]!();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 503) retryAfter.add(String(res.headers['retry-after']));
        if (res.status >= 500 && res.status !== 503) throw new Error(`${res.status} ${res.text}`);
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await pg.stop();
    await new Promise((r) => setTimeout(r, 1500));
    const during = await api.get(`/api/v1/funds/${fundId}`).set(accountant.auth);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({ code: 'UNAVAILABLE', status: 503 });
    expect(during.headers['retry-after']).toBe('5');
    pg = await startEmbeddedPostgres(dataDir, port, quiet);
    let back = 0;
    for (let waited = 0; waited < 20_000; waited += 250) {
      back = (await api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).status;
      if (back === 200) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    load = false;
    await Promise.all(clients);
    expect(back).toBe(200);
    expect(statuses.get(503)).toBeGreaterThan(0);
    expect([...statuses.keys()].filter((s) => s >= 500 && s !== 503)).toEqual([]);
    expect([...retryAfter]).toEqual(['5']);
    expect((await api.get('/healthz')).status).toBe(200);
  }, 120_000);
});
