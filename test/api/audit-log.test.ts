import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, openHarness, testPassword, unique, type Harness, type TestUser, openOwner } from '../support/harness.ts';

let h: Harness;
let admin: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  admin = await makeUser(h.db, 'admin');
  auditor = await makeUser(h.db, 'auditor');
});
afterAll(() => h.close());

describe('the audit log', () => {
  it('records a write with actor, role, object, request id, address and after-image', async () => {
    const code = unique('A');
    const created = await h.api
      .post('/api/v1/departments')
      .set(admin.auth)
      .set('X-Forwarded-For', '10.9.8.7')
      .send({ code, name: '审计测试', group: 'government' });
    const res = await h.api.get(`/api/v1/audit-log?action=department.create&object_id=${created.body.id}`).set(auditor.auth);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({
      actor_id: admin.id,
      actor_username: admin.username,
      actor_role: 'admin',
      action: 'department.create',
      object_type: 'department',
      object_id: created.body.id,
      request_id: created.headers['x-request-id'],
      ip: '10.9.8.7',
      after: { code, name: '审计测试' },
    });
  });

  it('filters by actor and time, and pages newest first', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const other = await makeUser(h.db, 'admin');
    for (let i = 0; i < 3; i++)
      await h.api
        .post('/api/v1/departments')
        .set(other.auth)
        .send({ code: unique('P'), name: `单位${i}`, group: 'government' });
    const first = await h.api
      .get(`/api/v1/audit-log?actor_id=${other.id}&action=department.create&from=${encodeURIComponent(since)}&limit=2`)
      .set(auditor.auth);
    expect(first.body.items).toHaveLength(2);
    const second = await h.api
      .get(`/api/v1/audit-log?actor_id=${other.id}&action=department.create&from=${encodeURIComponent(since)}&limit=2&cursor=${first.body.next_cursor}`)
      .set(auditor.auth);
    const names = [...first.body.items, ...second.body.items].map((e: { after: { name: string } }) => e.after.name);
    expect(names).toEqual(['单位2', '单位1', '单位0']);
  });

  it('refuses a time the database could not read (year 0000, an offset past ±14:00) with 422 in Chinese, never a 500', async () => {
    for (const t of ['0000-11-10T00:00:00+08:00', '2011-09-20T00:00:00+20:00', '2011-02-30T00:00:00+08:00']) {
      for (const path of ['/api/v1/audit-log', '/api/v1/audit-log/export?format=csv']) {
        const res = await h.api.get(`${path}${path.includes('?') ? '&' : '?'}to=${encodeURIComponent(t)}`).set(auditor.auth);
        expect(res.status, `${path} to=${t}`).toBe(422);
        expect(res.body.errors[0].field).toBe('to');
        expect(res.body.detail).toMatch(/[\u4e00-\u9fff]/);
      }
    }
  });

  it('records a before-image on an update, and never a password or its hash', async () => {
    const u = await makeUser(h.db, 'auditor');
    await h.api.patch(`/api/v1/users/${u.id}`).set(admin.auth).send({ password: 'another long secret' });
    const [event] = await h.db('audit_log').where({ action: 'user.update', object_id: u.id });
    expect(event.before).toMatchObject({ username: u.username });
    expect(event.after).toMatchObject({ password_changed: true });
    const everything = JSON.stringify(await h.db('audit_log').select('before', 'after'));
    expect(everything).not.toContain('another long secret');
    expect(everything).not.toContain(testPassword);
    expect(everything).not.toContain('$argon2');
  });

  it.each([
    ['UPDATE', "UPDATE audit_log SET action = 'forged' WHERE id = (SELECT max(id) FROM audit_log)"],
    ['DELETE', 'DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)'],
    ['TRUNCATE', 'TRUNCATE audit_log'],
  ])('refuses %s by direct SQL: the pool has no right to, and the owner meets the trigger', async (_op, sql) => {
    const before = await h.db('audit_log').count<{ n: string }[]>('* as n');
    await expect(h.db.raw(sql)).rejects.toThrow(/permission denied/);
    const owner = openOwner();
    try {
      await expect(owner.raw(sql)).rejects.toThrow(/append-only/);
    } finally {
      await owner.destroy();
    }
    expect(await h.db('audit_log').count<{ n: string }[]>('* as n')).toEqual(before);
  });
});
