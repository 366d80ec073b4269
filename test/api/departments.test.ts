import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

const units2011 = readFileSync(new URL('../../db/seed/units-2011.csv', import.meta.url), 'utf8');

let h: Harness;
let accountant: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
});
afterAll(() => h.close());

/** The 2011 file with its codes made unique, so this test owns its rows in a shared database. */
function units(prefix: string): string {
  return units2011.replace(/^XJ/gm, prefix);
}

const importCsv = (csv: string, user = accountant) => h.api.post('/api/v1/departments/import').set(user.auth).set('Content-Type', 'text/csv').send(csv);

describe('departments', () => {
  it('imports the 71 units of the notice, then updates them by code on a second import', async () => {
    const prefix = unique('U').slice(0, 8);
    const first = await importCsv(units(prefix));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ created: 71, updated: 0 });
    const second = await importCsv(units(prefix).replace(`${prefix}005,统计局,government,completed`, `${prefix}005,统计局,government,procuring`));
    expect(second.body).toEqual({ created: 0, updated: 71 });
    const rows = await h.db('departments').where('code', 'like', `${prefix}%`);
    expect(rows).toHaveLength(71);
    expect(rows.filter((r) => r.group === 'government')).toHaveLength(56);
    expect(rows.find((r) => r.code === `${prefix}005`)).toMatchObject({ name: '统计局', status: 'procuring' });
  });

  it('refuses a file with a bad line whole, naming each bad line, and imports nothing', async () => {
    const prefix = unique('V').slice(0, 8);
    const csv = `code,name,group,status,note\n${prefix}1,甲单位,government,completed,\n${prefix}2,乙单位,government,finished,\n${prefix}3,,government,completed,\n`;
    const res = await importCsv(csv);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('CSV_INVALID');
    expect(res.body.errors).toEqual([
      { field: 'line 3', message: expect.stringContaining('status 须为') },
      { field: 'line 4', message: expect.stringContaining('name 不能为空') },
    ]);
    expect(await h.db('departments').where('code', 'like', `${prefix}%`)).toHaveLength(0);
  });

  it('refuses a CSV import sent as JSON with 415', async () => {
    const res = await h.api.post('/api/v1/departments/import').set(accountant.auth).send({ csv: 'x' });
    expect(res.status).toBe(415);
  });

  it('refuses a duplicate code with 409', async () => {
    const d = await makeDepartment(h.db);
    const res = await h.api.post('/api/v1/departments').set(accountant.auth).send({ code: d.code, name: '重复', group: 'government' });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('DUPLICATE');
  });

  it('shows a department user its own department only; another is 404, never its data', async () => {
    const own = await makeDepartment(h.db);
    const other = await makeDepartment(h.db);
    const user = await makeUser(h.db, 'department', own.id);
    const list = await h.api.get('/api/v1/departments').set(user.auth);
    expect(list.body.items.map((d: { id: string }) => d.id)).toEqual([own.id]);
    expect((await h.api.get(`/api/v1/departments/${own.id}`).set(user.auth)).body.name).toBe(own.name);
    const hidden = await h.api.get(`/api/v1/departments/${other.id}`).set(user.auth);
    expect(hidden.status).toBe(404);
    expect(JSON.stringify(hidden.body)).not.toContain(other.name);
  });

  it('pages through departments with limit and cursor without repeats', async () => {
    const auditor = await makeUser(h.db, 'auditor');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await h.api
        .get(`/api/v1/departments?limit=50${cursor ? `&cursor=${cursor}` : ''}`)
        .set(auditor.auth);
      seen.push(...res.body.items.map((d) => d.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    const total = Number((await h.db('departments').count<{ n: string }[]>('* as n'))[0]!.n);
    expect(seen.length).toBeGreaterThanOrEqual(Math.min(total, seen.length));
    expect(new Set(seen).size).toBe(seen.length);
  });
});
