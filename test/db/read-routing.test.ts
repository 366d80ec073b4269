import type { Request } from 'express';
import type { Knex } from 'knex';
import { pino } from 'pino';
import supertest from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { createApp } from '../../server/app.ts';
import { parseLsn, readRouter, type ReadPool, type ReadRouter, type ReplicaProbe } from '../../server/db/read-pool.ts';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { dataDirFor, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * DATABASE_REPLICA_URL (docs/ha.md): read-only reports read the standby when it is fresh and has the
 * session's own writes; everything else reads the primary. The "standby" here is a second pool on the
 * same database (application_name jiangbu-replica) whose probe the test can make lag, fail or report a
 * promotion; its replay position is the database's own flushed position while it is "fresh", so what
 * it serves is really there. The real standby of a pg_auto_failover formation: test/failover.
 */
const maxLag_ms = 1_000;
let h: Harness;
let replica: Knex;
let reads: ReadRouter;
let accountant: TestUser;
let reader: TestUser;
let checker: TestUser;
let fundId: string;
let standby: 'fresh' | 'lagging' | 'down' | 'promoted' = 'fresh';
let frozenLsn = 0n;
const choices: Array<{ path: string; pool: ReadPool; reason: string }> = [];
const warnings: string[] = [];
let replicaQueries = 0;

async function flushedLsn(db: Knex): Promise<bigint> {
  const { rows } = await db.raw(`SELECT pg_current_wal_flush_lsn()::text AS lsn`);
  return parseLsn(rows[0].lsn);
}

async function probe(): Promise<ReplicaProbe> {
  if (standby === 'down') throw new Error('connect ECONNREFUSED 127.0.0.1:6002');
  if (standby === 'promoted') return { standby: false, replayLsn: null };
  return { standby: true, replayLsn: standby === 'lagging' ? frozenLsn : await flushedLsn(replica) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A sample taken strictly after everything before it (the router compares times in ms). */
const checkNow = async () => {
  await sleep(3);
  await reads.check();
};
const servedBy = (path: string) => choices.filter((c) => c.path === path).at(-1);

beforeAll(async () => {
  const url = inject('databaseUrl');
  const base = openHarness(url);
  replica = createKnex(url, 4, 60_000, 'jiangbu-replica');
  replica.on('query', () => replicaQueries++);
  reads = readRouter({
    primary: base.db,
    replica,
    maxLag_ms,
    log: { warn: (m) => warnings.push(m), info: () => undefined },
    probeReplica: probe,
    onChoice: (req: Request, pool, reason) => choices.push({ path: req.path, pool, reason }),
  });
  const app = createApp({
    db: base.db,
    config: { tokenTtlHours: 8, uploadMaxBytes: 1 << 20, trustProxy: false, dataDir: dataDirFor(url) },
    logger: pino({ level: 'silent' }),
    reads,
  });
  h = { ...base, app, api: supertest(app) };
  accountant = await makeUser(h.db, 'accountant');
  reader = await makeUser(h.db, 'auditor');
  checker = await makeUser(h.db, 'accountant');
  fundId = await makeFund(h, accountant, '1000.00');
});
afterAll(async () => {
  reads.stop();
  await assertLedgerInvariants(h.db);
  await replica.destroy();
  await h.close();
});
beforeEach(() => {
  standby = 'fresh';
});

describe('reports from the standby', () => {
  it('reads a fresh standby for a session that has not written, with the same answer as the primary', async () => {
    await checkNow();
    expect(reads.status()).toMatchObject({ usable: true, problem: null });
    const before = replicaQueries;
    const fromStandby = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).set(reader.auth);
    expect(fromStandby.status).toBe(200);
    expect(servedBy(`/api/v1/funds/${fundId}/trial-balance`)).toMatchObject({ pool: 'replica' });
    expect(replicaQueries).toBeGreaterThan(before);

    standby = 'down';
    await checkNow();
    const fromPrimary = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).set(reader.auth);
    expect(servedBy(`/api/v1/funds/${fundId}/trial-balance`)).toMatchObject({ pool: 'primary' });
    expect(fromPrimary.body).toEqual(fromStandby.body);
  });

  it("reads the primary for a session's read right after its write, and the standby once a sample shows it replayed", async () => {
    await checkNow();
    const path = `/api/v1/funds/${fundId}/journal`;
    const d = await makeDepartment(h.db);
    const prepared = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries`)
      .set(accountant.auth)
      .send({
        date: '2011-07-01',
        memo: '读己之写',
        postings: [
          { account_code: `5001.${d.code}`, side: 'debit', amount: '1.00' },
          { account_code: `2307.${d.code}`, side: 'credit', amount: '1.00' },
        ],
      });
    expect(prepared.status).toBe(201);
    // The checker approves; at once, in the checker's session, the journal comes from the primary and has the entry.
    expect((await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
    const seen = (res: { body: { items: Array<{ id: string }> } }) => res.body.items.map((e) => e.id);
    const journal = await h.api.get(path).set(checker.auth);
    expect(journal.status).toBe(200);
    expect(servedBy(path)).toMatchObject({ pool: 'primary', reason: 'read-your-writes' });
    expect(seen(journal)).toContain(prepared.body.id);
    // Another session is not held back by it.
    await h.api.get(path).set(reader.auth);
    expect(servedBy(path)).toMatchObject({ pool: 'replica' });
    // After a sample taken past the write, which the standby has replayed: the standby.
    await checkNow();
    const later = await h.api.get(path).set(checker.auth);
    expect(servedBy(path)).toMatchObject({ pool: 'replica' });
    expect(seen(later)).toContain(prepared.body.id);
  });

  it('skips a standby that lags beyond REPLICA_MAX_LAG_MS, with a warning, and uses it again when it catches up', async () => {
    await checkNow();
    frozenLsn = await flushedLsn(h.db);
    standby = 'lagging';
    // The primary moves on; the standby does not.
    await makeFund(h, accountant, '5.00');
    await checkNow();
    await sleep(maxLag_ms + 100);
    await checkNow();
    expect(reads.status()).toMatchObject({ usable: false });
    expect(reads.status().lag_ms).toBeGreaterThan(maxLag_ms);
    expect(warnings.at(-1)).toMatch(/lags .*REPLICA_MAX_LAG_MS=1000/);
    // Still lagging, by more: no second warning.
    const warned = warnings.length;
    await sleep(20);
    await checkNow();
    expect(warnings.length).toBe(warned);
    await h.api.get(`/api/v1/funds/${fundId}/positions`).set(reader.auth);
    expect(servedBy(`/api/v1/funds/${fundId}/positions`)).toMatchObject({ pool: 'primary' });

    standby = 'fresh';
    await checkNow();
    await h.api.get(`/api/v1/funds/${fundId}/positions`).set(reader.auth);
    expect(servedBy(`/api/v1/funds/${fundId}/positions`)).toMatchObject({ pool: 'replica' });
  });

  it('skips a standby that does not answer or was promoted, and a stale proof even without a new check', async () => {
    for (const state of ['down', 'promoted'] as const) {
      standby = state;
      const warned = warnings.length;
      await checkNow();
      expect(warnings.length).toBe(warned + 1);
      expect(warnings.at(-1)).toMatch(state === 'down' ? /does not answer/ : /not a standby/);
      await h.api.get('/api/v1/progress').set(reader.auth);
      expect(servedBy('/api/v1/progress')).toMatchObject({ pool: 'primary' });
    }
    standby = 'fresh';
    await checkNow();
    await sleep(maxLag_ms + 50);
    // No check since: the proof of freshness is older than the bound.
    await h.api.get('/api/v1/progress').set(reader.auth);
    expect(servedBy('/api/v1/progress')).toMatchObject({ pool: 'primary' });
  });

  it('never reads the standby for what decides money: approval queues, verify, posting', async () => {
    await checkNow();
    const before = replicaQueries;
    const chosen = choices.length;
    await makeFund(h, accountant, '7.00');
    expect((await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(reader.auth)).status).toBe(200);
    expect((await h.api.get(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth)).status).toBe(200);
    expect(replicaQueries).toBe(before);
    expect(choices.length).toBe(chosen);
  });
});

describe('WAL positions', () => {
  it('reads pg_lsn text as one ordered number', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(() => parseLsn('16-B3')).toThrow(/not a WAL position/);
  });
});
