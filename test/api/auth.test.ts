import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bootstrapAdmin } from '../../server/users/users.ts';
import { pruneStale } from '../../server/auth/login-throttle.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { makeUser, openHarness, testPassword, unique, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(() => {
  h = openHarness();
});
afterAll(() => h.close());

const login = (username: string, password: string, ip = '10.0.0.1') => h.api.post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ username, password });

describe('sign-in', () => {
  it('returns an opaque token and the user, and the token works', async () => {
    const u = await makeUser(h.db, 'auditor');
    const res = await login(u.username, testPassword);
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual({ id: u.id, username: u.username, role: 'auditor', department_id: null });
    expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const me = await h.api.get('/api/v1/auth/me').set('Authorization', `Bearer ${res.body.token}`);
    expect(me.body).toMatchObject({ id: u.id, role: 'auditor' });
  });

  it('stores only a hash of the token', async () => {
    const u = await makeUser(h.db, 'auditor');
    const res = await login(u.username, testPassword);
    const stored = await h.db('sessions').where({ user_id: u.id }).pluck('token_hash');
    expect(stored.map((b: Buffer) => b.toString('base64url'))).not.toContain(res.body.token);
  });

  it('answers a wrong password and an unknown user alike, with 401', async () => {
    const u = await makeUser(h.db, 'auditor');
    const wrong = await login(u.username, 'not the password');
    const unknown = await login(unique('nobody'), 'not the password');
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
    expect(unknown.body.detail).toBe(wrong.body.detail);
  });

  it('refuses a disabled user even with the right password', async () => {
    const u = await makeUser(h.db, 'auditor');
    await h.db('users').where({ id: u.id }).update({ disabled: true });
    expect((await login(u.username, testPassword)).status).toBe(401);
    expect((await h.api.get('/api/v1/auth/me').set(u.auth)).status).toBe(401);
  });

  it('throttles a user after 10 failures, even with the right password, from any address; the lockout doubles', async () => {
    const u = await makeUser(h.db, 'accountant');
    for (let i = 0; i < 10; i++) expect((await login(u.username, 'wrong password', `10.1.0.${i}`)).status).toBe(401);
    const res = await login(u.username, testPassword, '10.1.1.1');
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('TOO_MANY_ATTEMPTS');
    expect(res.headers['retry-after']).toBe('300');
    // The lockout runs out; ten more failures lock it twice as long.
    await h
      .db('login_throttle')
      .where({ scope: 'account', key: u.username.toLowerCase() })
      .update({ locked_until: h.db.raw("now() - interval '1 second'") });
    for (let i = 0; i < 10; i++) expect((await login(u.username, 'wrong password', `10.1.2.${i}`)).status).toBe(401);
    const again = await login(u.username, testPassword, '10.1.3.1');
    expect(again.status).toBe(429);
    expect(again.headers['retry-after']).toBe('600');
  });

  it('40 parallel wrong sign-ins get no more tries than 40 serial ones', async () => {
    const parallel = await makeUser(h.db, 'accountant');
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login(parallel.username, 'wrong password', `10.5.0.${i}`)));
    const serial = await makeUser(h.db, 'accountant');
    const serialAnswers = [];
    for (let i = 0; i < 40; i++) serialAnswers.push(await login(serial.username, 'wrong password', `10.5.1.${i}`));
    const checked = (rs: Array<{ status: number }>) => rs.filter((r) => r.status === 401).length;
    expect(checked(serialAnswers)).toBe(10);
    expect(checked(answers)).toBe(10);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(30);
    // The right password, too, waits for the lockout.
    expect((await login(parallel.username, testPassword, '10.5.2.1')).status).toBe(429);
  });

  it('limits an address to 100 tries in 5 minutes, and only for those 5 minutes', async () => {
    const ip = `10.2.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const tries = await Promise.all(Array.from({ length: 100 }, () => login(unique('ghost'), 'wrong password', ip)));
    expect(tries.every((r) => r.status === 401)).toBe(true);
    const u = await makeUser(h.db, 'accountant');
    const refused = await login(u.username, testPassword, ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(300);
    expect((await login(u.username, testPassword, '10.3.0.1')).status).toBe(200);
  });

  it('a colleague behind the same address still signs in after a few failures of someone else', async () => {
    const ip = '10.6.0.1';
    for (let i = 0; i < 20; i++) await login(unique('ghost'), 'wrong password', ip);
    const u = await makeUser(h.db, 'auditor');
    expect((await login(u.username, testPassword, ip)).status).toBe(200);
  });

  it('forgets failures once their window has passed', async () => {
    const u = await makeUser(h.db, 'accountant');
    for (let i = 0; i < 10; i++) await login(u.username, 'wrong password', '10.4.0.1');
    await h
      .db('login_throttle')
      .where({ scope: 'account', key: u.username.toLowerCase() })
      .update({ window_started: h.db.raw("now() - interval '16 minutes'") });
    expect((await login(u.username, testPassword, '10.4.0.2')).status).toBe(200);
  });

  it('sweeps counters untouched for two days, but keeps a lockout that still runs', async () => {
    const stale = unique('stale');
    const locked = unique('locked');
    await h.db('login_throttle').insert([
      { scope: 'account', key: stale, attempts: 3, window_started: h.db.raw("now() - interval '3 days'"), updated_at: h.db.raw("now() - interval '3 days'") },
      {
        scope: 'account',
        key: locked,
        attempts: 0,
        window_started: h.db.raw("now() - interval '3 days'"),
        updated_at: h.db.raw("now() - interval '3 days'"),
        locked_until: h.db.raw("now() + interval '1 hour'"),
      },
    ]);
    await pruneStale(h.db);
    expect(await h.db('login_throttle').whereIn('key', [stale, locked]).pluck('key')).toEqual([locked]);
  });

  it('logs out: the token stops working', async () => {
    const u = await makeUser(h.db, 'auditor');
    expect((await h.api.post('/api/v1/auth/logout').set(u.auth)).status).toBe(204);
    const after = await h.api.get('/api/v1/auth/me').set(u.auth);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('UNAUTHENTICATED');
  });

  it('expires tokens after their lifetime', async () => {
    const u = await makeUser(h.db, 'auditor');
    await h
      .db('sessions')
      .where({ user_id: u.id })
      .update({ expires_at: h.db.raw("now() - interval '1 second'") });
    expect((await h.api.get('/api/v1/auth/me').set(u.auth)).status).toBe(401);
  });

  it('gives tokens the configured lifetime', async () => {
    const short = openHarness(undefined, { tokenTtlHours: 1 });
    const u = await makeUser(h.db, 'auditor');
    const res = await short.api.post('/api/v1/auth/login').send({ username: u.username, password: testPassword });
    const ttl_ms = new Date(res.body.expires_at).getTime() - Date.now();
    expect(ttl_ms).toBeGreaterThan(59 * 60_000);
    expect(ttl_ms).toBeLessThanOrEqual(60 * 60_000);
    await short.close();
  });

  it('refuses a malformed or unknown bearer token with 401', async () => {
    for (const header of ['Bearer nonsense', 'Bearer ' + 'A'.repeat(43), 'Basic abc', 'Bearer']) {
      expect((await h.api.get('/api/v1/auth/me').set('Authorization', header)).status).toBe(401);
    }
  });

  it('records successful and failed sign-ins in the audit log, never the password', async () => {
    const u = await makeUser(h.db, 'auditor');
    await login(u.username, 'a wrong secret 123');
    await login(u.username, testPassword);
    const events = await h.db('audit_log').whereRaw("after->>'username' = ?", [u.username]).orWhere({ actor_id: u.id }).orderBy('id');
    expect(events.map((e) => e.action)).toEqual(['auth.login_failed', 'auth.login']);
    const text = JSON.stringify(events);
    expect(text).not.toContain('a wrong secret 123');
    expect(text).not.toContain(testPassword);
  });
});

describe('first start', () => {
  let url: string;
  beforeAll(async () => {
    url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_boot');
  });
  afterAll(() => dropDatabase(url));

  it('creates admin once from BOOTSTRAP_ADMIN_PASSWORD, or prints a generated password once', async () => {
    const fresh = openHarness(url);
    const printed: string[] = [];
    await bootstrapAdmin(fresh.db, undefined, (l) => printed.push(l));
    await bootstrapAdmin(fresh.db, undefined, (l) => printed.push(l));
    expect(printed).toHaveLength(1);
    const password = /generated password: (\S+)/.exec(printed[0]!)![1]!;
    const res = await fresh.api.post('/api/v1/auth/login').send({ username: 'admin', password });
    expect(res.status).toBe(200);
    expect(res.body.user.role).toBe('admin');
    await fresh.close();
  });
});

describe('changing one’s own password', () => {
  it('needs the current password, follows the policy, and ends the other sessions', async () => {
    const u = await makeUser(h.db, 'auditor');
    const other = await login(u.username, testPassword);
    expect(
      (await h.api.post('/api/v1/auth/password').set(u.auth).send({ current_password: 'not it at all', new_password: 'a brand new passphrase' })).body.errors[0]
        .field,
    ).toBe('current_password');
    expect((await h.api.post('/api/v1/auth/password').set(u.auth).send({ current_password: testPassword, new_password: '1234567890123' })).body.code).toBe(
      'WEAK_PASSWORD',
    );
    expect(
      (await h.api.post('/api/v1/auth/password').set(u.auth).send({ current_password: testPassword, new_password: 'a brand new passphrase' })).status,
    ).toBe(204);
    expect((await h.api.get('/api/v1/auth/me').set(u.auth)).status).toBe(200);
    expect((await h.api.get('/api/v1/auth/me').set('Authorization', `Bearer ${other.body.token}`)).status).toBe(401);
    expect((await login(u.username, 'a brand new passphrase', '10.7.0.1')).status).toBe(200);
  });
});
