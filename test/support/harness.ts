import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import type { Knex } from 'knex';
import { pino } from 'pino';
import supertest from 'supertest';
import { inject } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { createApp } from '../../server/app.ts';
import { hashPassword } from '../../server/auth/passwords.ts';
import type { Role } from '../../server/auth/roles.ts';
import { openSession, startSessionCache } from '../../server/auth/sessions.ts';
import type { SessionCache } from '../../server/auth/session-cache.ts';
import type { JobQueue } from '../../server/routes/jobs.ts';
import { checkResponsesAgainstDocument } from './response-check.ts';

// Every response a test receives through supertest is checked against /openapi.json.
checkResponsesAgainstDocument();

export const testPassword = 'correct horse battery staple';
let testPasswordHash: Promise<string> | undefined;

export interface Harness {
  db: Knex;
  app: Express;
  api: ReturnType<typeof supertest>;
  close(): Promise<void>;
  /** Where this harness's service writes its witness (one file per database: a witness pins one ledger). */
  witnessFile: string;
  /** This instance's session cache, when it has one (`sessionCache`, or TEST_SESSION_CACHE=1 for every harness). */
  sessions?: Promise<SessionCache>;
}

/** Uploads of this run; a temporary directory made and removed by the global setup, never the repository. */
export const testDataDir = inject('filesDir');

/** The DATA_DIR of the service on database `url`: the suite's own for the shared database, a folder of it for any other (a witness file witnesses one ledger). */
export function dataDirFor(url: string): string {
  const name = new URL(url).pathname.slice(1);
  if (name === new URL(inject('databaseUrl')).pathname.slice(1)) return testDataDir;
  const dir = join(testDataDir, `db-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function openHarness(
  url: string = inject('databaseUrl'),
  overrides: { tokenTtlHours?: number; uploadMaxBytes?: number; jobs?: JobQueue; sessionCache?: boolean } = {},
): Harness {
  const db = createKnex(url, 20, 60_000);
  const dataDir = dataDirFor(url);
  const app = createApp({
    db,
    config: { tokenTtlHours: overrides.tokenTtlHours ?? 8, uploadMaxBytes: overrides.uploadMaxBytes ?? 10 * 1024 * 1024, trustProxy: 'loopback', dataDir },
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...(overrides.jobs ? { jobs: overrides.jobs } : {}),
  });
  const cached = overrides.sessionCache ?? process.env.TEST_SESSION_CACHE === '1';
  const sessions = cached ? startSessionCache(db, { ttl_ms: 5_000, entries_max: 10_000, log: { warn: () => undefined } }) : undefined;
  return {
    db,
    app,
    api: supertest(app),
    close: async () => {
      await (await sessions)?.stop();
      await db.destroy();
    },
    witnessFile: join(dataDir, 'witness.jsonl'),
    ...(sessions ? { sessions } : {}),
  };
}

/** A connection as the database owner (migrations' login), for tests that play someone with the owner's rights. */
export function openOwner(): Knex {
  return createKnex(inject('ownerDatabaseUrl'), 2, 60_000, 'jiangbu-owner');
}

/** Runs `work` with the owner's rights (a connection opened and closed around it): for tests of what the schema itself refuses. */
export async function asOwner<T>(work: (owner: Knex) => Promise<T>): Promise<T> {
  const owner = openOwner();
  try {
    return await work(owner);
  } finally {
    await owner.destroy();
  }
}

export function unique(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export interface TestUser {
  id: string;
  username: string;
  role: Role;
  departmentId: string | null;
  token: string;
  auth: { Authorization: string };
}

/** A user with a session opened directly (sign-in itself is tested through the API in auth tests). */
export async function makeUser(db: Knex, role: Role, departmentId: string | null = null): Promise<TestUser> {
  testPasswordHash ??= hashPassword(testPassword);
  const username = unique(`${role.slice(0, 4)}_`);
  const [row] = await db('users')
    .insert({ username, password_hash: await testPasswordHash, role, department_id: departmentId })
    .returning('id');
  const id = String(row.id);
  const { token } = await openSession(db, id, 8, '127.0.0.1');
  return { id, username, role, departmentId, token, auth: { Authorization: `Bearer ${token}` } };
}

export async function makeDepartment(db: Knex, fields: { group?: string; status?: string; name?: string } = {}) {
  const code = unique('D');
  const [row] = await db('departments')
    .insert({ code, name: fields.name ?? `测试单位${code}`, group: fields.group ?? 'government', status: fields.status ?? 'not_started' })
    .returning(['id', 'code', 'name']);
  return { id: String(row.id), code: String(row.code), name: String(row.name) };
}

/** A second accountant per harness, to approve (审核) what a test's accountant prepared (制单). */
const checkers = new WeakMap<Harness, Promise<TestUser>>();
export function checkerOf(h: Harness): Promise<TestUser> {
  let checker = checkers.get(h);
  if (!checker) {
    checker = makeUser(h.db, 'accountant');
    checkers.set(h, checker);
  }
  return checker;
}

/** Approves a pending entry as another accountant (the harness's checker unless given); throws unless it posts. */
export async function approveEntry(h: Harness, entryId: string, approver?: TestUser) {
  const res = await h.api
    .post(`/api/v1/journal-entries/${entryId}/approve`)
    .set((approver ?? (await checkerOf(h))).auth)
    .send({});
  if (res.status !== 200) throw new Error(`entry ${entryId} not approved: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A fund created through the API, optionally with an appropriation prepared by `accountant` and approved by another. */
export async function makeFund(h: Harness, accountant: TestUser, appropriation?: string) {
  const res = await h.api
    .post('/api/v1/funds')
    .set(accountant.auth)
    .send({ code: unique('F'), name: '软件正版化以奖代补资金', fiscal_year: 2011, document_no: '新财行〔2011〕88号' });
  if (res.status !== 201) throw new Error(`fund not created: ${res.status} ${JSON.stringify(res.body)}`);
  const fundId = String(res.body.id);
  if (appropriation) {
    const a = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .send({ amount: appropriation, document_no: unique('APP'), date: '2011-06-01' });
    if (a.status !== 201) throw new Error(`appropriation failed: ${a.status} ${JSON.stringify(a.body)}`);
    const checker = await checkerOf(h);
    await approveEntry(h, String(a.body.id), accountant.id === checker.id ? await makeUser(h.db, 'accountant') : checker);
  }
  return fundId;
}
