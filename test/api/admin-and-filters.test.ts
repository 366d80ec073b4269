import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../server/errors.ts';
import { allocationFixtures } from '../support/allocation-fixtures.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let admin: TestUser;
let accountant: TestUser;
let checker: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  admin = await makeUser(h.db, 'admin');
  accountant = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
});
afterAll(async () => {
  await h.close();
});

describe('finding 9: administrators and long lists', () => {
  it('pages every unit with a next cursor and finds one by code or by part of its name', async () => {
    const tag = unique('搜');
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await makeDepartment(h.db, { name: `${tag}单位${i}` }));
    const first = await h.api.get('/api/v1/departments').query({ q: tag, limit: 2 }).set(admin.auth);
    expect(first.body.items.map((d: { id: string }) => d.id)).toEqual([made[0]!.id, made[1]!.id]);
    expect(first.body.next_cursor).toBe(made[1]!.id);
    const second = await h.api.get('/api/v1/departments').query({ q: tag, limit: 2, cursor: first.body.next_cursor }).set(admin.auth);
    expect(second.body).toEqual({ items: [expect.objectContaining({ id: made[2]!.id })], next_cursor: null });
    const byCode = await h.api.get('/api/v1/departments').query({ q: made[2]!.code.toLowerCase() }).set(admin.auth);
    expect(byCode.body.items.map((d: { id: string }) => d.id)).toEqual([made[2]!.id]);
    expect(
      (await h.api.get('/api/v1/departments').query({ q: '%' }).set(admin.auth)).body.items.every(
        (d: { name: string; code: string }) => d.name.includes('%') || d.code.startsWith('%'),
      ),
    ).toBe(true);
  });

  it('edits a unit’s name, group and contact, deactivates it, keeps it, and never deletes it', async () => {
    const d = await makeDepartment(h.db, { name: '导入错误的名称' });
    const res = await h.api
      .patch(`/api/v1/departments/${d.id}`)
      .set(admin.auth)
      .send({ name: '自治区统计局', group: 'party_mass_judicial', contact: '张三 0991-1234567' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: d.id, code: d.code, name: '自治区统计局', group: 'party_mass_judicial', contact: '张三 0991-1234567', active: true });
    const off = await h.api.patch(`/api/v1/departments/${d.id}`).set(accountant.auth).send({ active: false });
    expect(off.body.active).toBe(false);
    expect((await h.api.get(`/api/v1/departments/${d.id}`).set(auditor.auth)).body.active).toBe(false);
    expect((await h.api.get('/api/v1/departments').query({ active: 'false', q: d.code }).set(admin.auth)).body.items).toHaveLength(1);
    const audit = await h.db('audit_log').where({ object_type: 'department', object_id: d.id }).orderBy('id').pluck('action');
    expect(audit).toEqual(['department.update', 'department.deactivate']);
    await expect(h.db('departments').where({ id: d.id }).del()).rejects.toThrow();
  });

  it.each([
    ['a code change', { code: 'NEW' }, 422],
    ['an empty name', { name: '' }, 422],
    ['nothing to change', {}, 422],
    ['active as a string', { active: 'no' }, 422],
  ])('refuses %s', async (_name, body, status) => {
    const d = await makeDepartment(h.db);
    const res = await h.api.patch(`/api/v1/departments/${d.id}`).set(admin.auth).send(body);
    expect(res.status).toBe(status);
    expect(res.body.detail).toMatch(/[\u4e00-\u9fff]/);
  });

  it('names a field it does not take by its Chinese name: a unit’s code cannot be changed', async () => {
    const d = await makeDepartment(h.db);
    const res = await h.api.patch(`/api/v1/departments/${d.id}`).set(admin.auth).send({ code: 'NEW' });
    expect(res.body.detail).toBe('内容：不接受的字段：代码');
    expect(res.body.errors).toEqual([{ field: 'body', message: '不接受的字段：代码' }]);
  });

  it('refuses editing a unit to a department user and an auditor (403), and an unknown unit is 404', async () => {
    const d = await makeDepartment(h.db);
    const own = await makeUser(h.db, 'department', d.id);
    expect((await h.api.patch(`/api/v1/departments/${d.id}`).set(own.auth).send({ name: 'x' })).status).toBe(403);
    expect((await h.api.patch(`/api/v1/departments/${d.id}`).set(auditor.auth).send({ name: 'x' })).status).toBe(403);
    expect((await h.api.patch('/api/v1/departments/999999999').set(admin.auth).send({ name: 'x' })).status).toBe(404);
  });

  it('finds users by the unit they are bound to, and binds no user to an inactive unit', async () => {
    const d = await makeDepartment(h.db, { name: unique('查用户') });
    const user = await makeUser(h.db, 'department', d.id);
    const found = await h.api.get('/api/v1/users').query({ q: d.name }).set(admin.auth);
    expect(found.body.items).toEqual([expect.objectContaining({ id: user.id, department_code: d.code, department_name: d.name })]);
    await h.api.patch(`/api/v1/departments/${d.id}`).set(admin.auth).send({ active: false });
    const bind = await h.api
      .post('/api/v1/users')
      .set(admin.auth)
      .send({ username: unique('u'), password: 'a long enough passphrase 2011', role: 'department', department_id: d.id });
    expect(bind.status).toBe(422);
    expect(bind.body.detail).toContain('已停用');
  });
});

describe('receipts are searched by unit and invoice number, page by page', () => {
  it('finds a unit’s receipts by its name and one receipt by its number', async () => {
    const fx = allocationFixtures(h, accountant, checker);
    const fundId = await fx.fundWithPolicy();
    const d = await makeDepartment(h.db, { name: unique('找发票') });
    const ids = [
      await fx.verifiedReceipt(fundId, d.id, [{ product: 'Windows', category: 'os', licences: 1, amount: '1.00' }]),
      await fx.verifiedReceipt(fundId, d.id, [{ product: 'Windows', category: 'os', licences: 1, amount: '2.00' }]),
    ];
    const first = await h.api.get('/api/v1/receipts').query({ q: d.name, limit: 1 }).set(auditor.auth);
    expect(first.body.items.map((r: { id: string }) => r.id)).toEqual([ids[1]]);
    const second = await h.api.get('/api/v1/receipts').query({ q: d.name, limit: 1, cursor: first.body.next_cursor }).set(auditor.auth);
    expect(second.body.items.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    const number = (await h.db('receipts').where({ id: ids[0] }).first('invoice_number')).invoice_number;
    expect((await h.api.get('/api/v1/receipts').query({ q: number }).set(auditor.auth)).body.items.map((r: { id: string }) => r.id)).toContain(ids[0]);
  });
});

describe('funds are searched by code or name', () => {
  it('finds one fund by its code', async () => {
    const fundId = await makeFund(h, accountant);
    const code = (await h.db('funds').where({ id: fundId }).first('code')).code;
    const found = await h.api.get('/api/v1/funds').query({ q: code.toLowerCase() }).set(auditor.auth);
    expect(found.body.items.map((f: { id: string }) => f.id)).toEqual([fundId]);
  });
});

describe('finding 10: names, not ids; the journal filter says what it filtered', () => {
  it('takes a parent account (2307 = every 2307.*) and a unit by name, and says what it filtered', async () => {
    const fx = allocationFixtures(h, accountant, checker);
    const fundId = await fx.fundWithPolicy();
    const a = await fx.acceptedUnitWithReceipt(fundId);
    const b = await fx.acceptedUnitWithReceipt(fundId);
    await fx.approve((await fx.newRun(fundId)).body.id);
    const parent = await h.api.get(`/api/v1/funds/${fundId}/journal`).query({ account: '2307' }).set(auditor.auth);
    expect(parent.status).toBe(200);
    expect(parent.body.items.map((e: { department_id: string }) => e.department_id).sort()).toEqual([a.id, b.id].sort());
    expect(parent.body.filter.description).toBe('仅显示科目 2307 及其 2 个明细科目的凭证');
    const byName = await h.api.get(`/api/v1/funds/${fundId}/journal`).query({ department: a.name }).set(auditor.auth);
    expect(byName.body.items.map((e: { department_id: string }) => e.department_id)).toEqual([a.id]);
    expect(byName.body.filter.description).toBe(`仅显示单位 ${a.name}（${a.code}）的凭证`);
    const byCode = await h.api.get(`/api/v1/funds/${fundId}/journal`).query({ department: b.code.toLowerCase(), account: '2307' }).set(auditor.auth);
    expect(byCode.body.items.map((e: { department_id: string }) => e.department_id)).toEqual([b.id]);
    const nobody = await h.api.get(`/api/v1/funds/${fundId}/journal`).query({ department: '没有这个单位的名字' }).set(auditor.auth);
    expect(nobody.status).toBe(422);
    expect(nobody.body.detail).toContain('没有代码或名称为“没有这个单位的名字”的单位');
    const noAccount = await h.api.get(`/api/v1/funds/${fundId}/journal`).query({ account: '9999' }).set(auditor.auth);
    expect(noAccount.status).toBe(422);
    expect(noAccount.body.detail).toContain('本资金没有科目 9999');
  });
});

describe('everywhere: Chinese sentences in every problem detail', () => {
  it('has a Chinese title for every code in the catalogue, with no English words in it', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(entry.zh, code).toMatch(/[\u4e00-\u9fff]/);
      expect(entry.zh.replace(/PDF/g, ''), code).not.toMatch(/[A-Za-z]{3,}/);
    }
  });

  /*
   * Every literal detail written in the server: new AppError('CODE', '…'), validationError(field, '…')
   * and zod messages. English words creep in there; file, format and identifier names people know
   * (PDF, CSV, XLSX, JPEG, PNG, GB, multipart/form-data, field names in quotes) are allowed.
   */
  it('writes no detail in the server code in English', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk(new URL('../../server', import.meta.url).pathname);
    const allowed =
      /\b(PDF|CSV|XLSX|JPEG|PNG|JSON|UTF|ASCII|Unicode|YYYY|MM|DD|GB|multipart|form|data|text|csv|application|json|file|Idempotency|Key|API|PUT|POST|GET|api|v1|funds|id|policy)\b/g;
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const details = [
        ...text.matchAll(/new AppError\('[A-Z_]+', (['`])((?:(?!\1).)*)\1/g),
        ...text.matchAll(/validationError\('[^']+', (['`])((?:(?!\1).)*)\1/g),
        ...text.matchAll(/\.(?:min|max|regex)\([^,()]+(?:\([^()]*\))?, (['`])((?:(?!\1).)*)\1\)/g),
      ].map((m) => m[2]!);
      for (const d of details) {
        const words = d
          .replace(/\$\{[^}]*\}/g, '')
          .replace(/“[^”]*”|"[^"]*"/g, '')
          .replace(allowed, '');
        if (/[A-Za-z]{3,}/.test(words) || !/[\u4e00-\u9fff]/.test(d)) offenders.push(`${file.replace(/.*server\//, 'server/')}: ${d}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
