import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { SessionCache } from '../../server/auth/session-cache.ts';
import { asOwner, makeUser, openHarness, testPassword, type Harness, type TestUser } from '../support/harness.ts';

// Two instances of the service on one database, each with its own session cache (as in production).
let a: Harness;
let b: Harness;
beforeAll(async () => {
  a = openHarness(undefined, { sessionCache: true });
  b = openHarness(undefined, { sessionCache: true });
  await Promise.all([listening(a), listening(b)]);
});
afterAll(async () => {
  await a.close();
  await b.close();
});

async function listening(h: Harness): Promise<SessionCache> {
  const cache = await h.sessions!;
  for (let i = 0; i < 200 && !cache.isListening; i++) await new Promise((r) => setTimeout(r, 25));
  expect(cache.isListening).toBe(true);
  return cache;
}

const me = (h: Harness, u: TestUser) => h.api.get('/api/v1/auth/me').set(u.auth);

/**
 * The status another instance answers once the announcement has reached it: its listener hears it a
 * moment after the commit (under load, a few ms after the writer's own answer). Asked again for up to
 * 1 s — well inside the 5 s TTL, so a 401 here can only come from the eviction.
 */
async function statusOnOther(
  h: Harness,
  u: TestUser,
  changed: (res: { status: number; body: { role?: string } }) => boolean = (res) => res.status !== 200,
): Promise<number> {
  const until = Date.now() + 1_000;
  for (;;) {
    const res = await me(h, u);
    if (changed(res) || Date.now() > until) return changed(res) ? res.status : -1;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Both instances have the session in their cache: the next requests would not look it up. */
async function warm(u: TestUser) {
  expect((await me(a, u)).status).toBe(200);
  expect((await me(b, u)).status).toBe(200);
}

/** Session lookups a harness's pool sends while `work` runs. */
async function lookupsDuring(h: Harness, work: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const count = (q: { sql: string }) => {
    if (/from "sessions"/i.test(q.sql)) n++;
  };
  h.db.on('query', count);
  try {
    await work();
  } finally {
    h.db.off('query', count);
  }
  return n;
}

describe('session cache', () => {
  it('answers a known token from memory: a cache hit sends no query', async () => {
    const u = await makeUser(a.db, 'auditor');
    expect(await lookupsDuring(a, () => me(a, u))).toBe(1);
    expect(await lookupsDuring(a, () => me(a, u))).toBe(0);
    expect((await me(a, u)).body).toMatchObject({ id: u.id, role: 'auditor' });
  });

  it('refuses the old token at once after sign-out, on this instance and on another', async () => {
    const u = await makeUser(a.db, 'auditor');
    await warm(u);
    expect((await a.api.post('/api/v1/auth/logout').set(u.auth)).status).toBe(204);
    expect((await me(a, u)).status).toBe(401);
    expect(await statusOnOther(b, u)).toBe(401);
  });

  it('refuses the other sessions at once after a password change, keeping the one that changed it', async () => {
    const u = await makeUser(a.db, 'auditor');
    const login = await a.api.post('/api/v1/auth/login').send({ username: u.username, password: testPassword });
    const current = { Authorization: `Bearer ${login.body.token}` };
    await warm(u);
    const changed = await b.api
      .post('/api/v1/auth/password')
      .set(current)
      .send({ current_password: testPassword, new_password: 'a brand new long passphrase' });
    expect(changed.status).toBe(204);
    expect((await me(b, u)).status).toBe(401);
    expect(await statusOnOther(a, u)).toBe(401);
    expect((await a.api.get('/api/v1/auth/me').set(current)).status).toBe(200);
  });

  it('refuses a disabled user at once, and an administrator’s password reset ends the sessions too', async () => {
    const admin = await makeUser(a.db, 'admin');
    const u = await makeUser(a.db, 'auditor');
    await warm(u);
    expect((await a.api.patch(`/api/v1/users/${u.id}`).set(admin.auth).send({ disabled: true })).status).toBe(200);
    expect((await me(a, u)).status).toBe(401);
    expect(await statusOnOther(b, u)).toBe(401);

    const v = await makeUser(a.db, 'auditor');
    await warm(v);
    expect((await b.api.patch(`/api/v1/users/${v.id}`).set(admin.auth).send({ password: 'a reset long passphrase' })).status).toBe(200);
    expect((await me(b, v)).status).toBe(401);
    expect(await statusOnOther(a, v)).toBe(401);
  });

  it('sees a role change made by direct SQL on the very next request, on both instances', async () => {
    const u = await makeUser(a.db, 'auditor');
    await warm(u);
    await asOwner((owner) => owner('users').where({ id: u.id }).update({ role: 'inspector' }));
    for (const h of [a, b]) expect(await statusOnOther(h, u, (res) => res.body.role === 'inspector')).toBe(200);
    expect((await a.api.get('/api/v1/audit-log').set(u.auth)).status).toBe(403);
  });

  it('refuses a session revoked or expired by direct SQL at once', async () => {
    const u = await makeUser(a.db, 'auditor');
    const v = await makeUser(a.db, 'auditor');
    await warm(u);
    await warm(v);
    await a.db('sessions').where({ user_id: u.id }).update({ revoked_at: a.db.fn.now() });
    await a
      .db('sessions')
      .where({ user_id: v.id })
      .update({ expires_at: a.db.raw("now() - interval '1 second'") });
    for (const h of [a, b]) expect([await statusOnOther(h, u), await statusOnOther(h, v)]).toEqual([401, 401]);
  });

  it('goes to the database while its listener is cut, and caches again once it is back', async () => {
    const cache = await listening(a);
    const u = await makeUser(a.db, 'auditor');
    await me(a, u);
    const pid = cache.listenerPid!;
    // The listener logs in as the pool (no grants needed to LISTEN), never as the owner.
    const listener = await asOwner((owner) => owner('pg_stat_activity').where({ pid }).first('usename'));
    expect(listener.usename).toBe(decodeURIComponent(new URL(inject('databaseUrl')).username));
    await asOwner((owner) => owner.raw('SELECT pg_terminate_backend(?)', [pid]));
    for (let i = 0; i < 100 && cache.isListening; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cache.isListening).toBe(false);
    expect(cache.size).toBe(0);
    // Not listening: every request looks its token up, so a revocation now cannot be missed.
    expect(await lookupsDuring(a, () => me(a, u))).toBe(1);
    await a.db('sessions').where({ user_id: u.id }).update({ revoked_at: a.db.fn.now() });
    expect((await me(a, u)).status).toBe(401);

    await listening(a);
    expect(cache.listenerPid).not.toBe(pid);
    const w = await makeUser(a.db, 'auditor');
    expect(await lookupsDuring(a, () => me(a, w))).toBe(1);
    expect(await lookupsDuring(a, () => me(a, w))).toBe(0);
  });
});
