import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeUser, openHarness, testPassword, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let admin: TestUser;
beforeAll(async () => {
  h = openHarness();
  admin = await makeUser(h.db, 'admin');
});
afterAll(() => h.close());

const create = (body: object) => h.api.post('/api/v1/users').set(admin.auth).send(body);

describe('users', () => {
  it('creates a department user bound to its department, who can then sign in', async () => {
    const d = await makeDepartment(h.db);
    const username = unique('dept_');
    const res = await create({ username, password: 'a long passphrase', role: 'department', department_id: d.id });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ username, role: 'department', department_id: d.id, disabled: false });
    expect(res.body.password_hash).toBeUndefined();
    const login = await h.api.post('/api/v1/auth/login').send({ username, password: 'a long passphrase' });
    expect(login.body.user.department_id).toBe(d.id);
  });

  it.each([
    ['too short', 'short1', '至少 12 个字符'],
    ['only digits', '123456789012345', '不能全部是数字'],
    ['a common password with digits', 'password1234', '过于常见或容易猜到（如常用密码、重复或连续字符、键盘序列），请换一个更长、更少见的密码'],
    ['one repeated letter', 'aaaaaaaaaaaa', '过于常见或容易猜到（如常用密码、重复或连续字符、键盘序列），请换一个更长、更少见的密码'],
  ])('refuses a password that is %s with 422 and a clear message', async (_name, password, message) => {
    const res = await create({ username: unique('u_'), password, role: 'auditor' });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'WEAK_PASSWORD', errors: [{ field: 'password', message }] });
  });

  it('refuses the username as password', async () => {
    const username = unique('samename_');
    const res = await create({ username, password: username, role: 'auditor' });
    expect(res.body.errors[0].message).toBe('不能与用户名相同');
  });

  it('requires a department for a department user and refuses one for other roles', async () => {
    const d = await makeDepartment(h.db);
    expect((await create({ username: unique('u_'), password: testPassword, role: 'department' })).body.errors[0].field).toBe('department_id');
    expect((await create({ username: unique('u_'), password: testPassword, role: 'auditor', department_id: d.id })).status).toBe(422);
    expect((await create({ username: unique('u_'), password: testPassword, role: 'department', department_id: '999999999' })).body.errors[0].message).toBe(
      '没有这个单位',
    );
  });

  it('refuses a username already taken, ignoring case, with 409', async () => {
    const username = unique('Taken_');
    await create({ username, password: testPassword, role: 'auditor' });
    const res = await create({ username: username.toLowerCase(), password: testPassword, role: 'auditor' });
    expect(res.status).toBe(409);
  });

  it('disables a user: their tokens stop working at once, and they cannot sign in', async () => {
    const u = await makeUser(h.db, 'accountant');
    const res = await h.api.patch(`/api/v1/users/${u.id}`).set(admin.auth).send({ disabled: true });
    expect(res.body.disabled).toBe(true);
    expect((await h.api.get('/api/v1/auth/me').set(u.auth)).status).toBe(401);
    expect((await h.api.post('/api/v1/auth/login').send({ username: u.username, password: testPassword })).status).toBe(401);
    await h.api.patch(`/api/v1/users/${u.id}`).set(admin.auth).send({ disabled: false });
    expect((await h.api.post('/api/v1/auth/login').send({ username: u.username, password: testPassword })).status).toBe(200);
  });

  it('does not let an admin disable their own account', async () => {
    const res = await h.api.patch(`/api/v1/users/${admin.id}`).set(admin.auth).send({ disabled: true });
    expect(res.status).toBe(409);
  });

  it('lists users without password hashes', async () => {
    const res = await h.api.get('/api/v1/users?limit=500').set(admin.auth);
    expect(res.body.items.length).toBeGreaterThan(0);
    expect(JSON.stringify(res.body)).not.toContain('argon2');
  });
});
