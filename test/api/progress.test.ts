import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';
import { chineseDate } from '../../reports/format.ts';
import { todayInShanghai } from '../../server/http/schemas.ts';

// The report counts every unit in the database, so this file has a database of its own.
const units2011 = readFileSync(new URL('../../db/seed/units-2011.csv', import.meta.url), 'utf8');
let url: string;
let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
const idOf = new Map<string, string>();

beforeAll(async () => {
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_progress');
  h = openHarness(url);
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  const res = await h.api.post('/api/v1/departments/import?effective_date=2011-08-31').set(accountant.auth).set('Content-Type', 'text/csv').send(units2011);
  expect(res.body).toEqual({ created: 71, updated: 0 });
  for (const d of await h.db('departments').select('id', 'code')) idOf.set(d.code, String(d.id));
});
afterAll(async () => {
  await h.close();
  await dropDatabase(url);
});

const progress = async (query = '') => (await h.api.get(`/api/v1/progress${query}`).set(auditor.auth)).body;

describe('the progress report', () => {
  it('says what the 2011 notice says: 31 / 29 / 3 / 8, 43.66% and 88.73%, 56 + 15 by group', async () => {
    const r = await progress('?as_of=2011-08-31');
    expect(r.total).toBe(71);
    expect(r.by_status).toEqual({ completed: 31, procuring: 29, awaiting_funds: 3, not_started: 8 });
    expect(r.completion_rate).toBe('0.4366');
    expect(r.projected_rate).toBe('0.8873');
    expect(Object.fromEntries(Object.entries(r.by_group).map(([g, c]) => [g, (c as { total: number }).total]))).toEqual({
      government: 56,
      party_mass_judicial: 15,
    });
    expect(r.units.awaiting_funds.map((u: { name: string }) => u.name)).toEqual(['自治区人大常委会办公厅', '纺织行办', '机电行办']);
  });

  it('leaves a deactivated unit out of the current report (a bad import stops counting) but keeps it in the history', async () => {
    const id = idOf.get('XJ071')!;
    const before = await progress();
    expect((await h.api.patch(`/api/v1/departments/${id}`).set(accountant.auth).send({ active: false })).status).toBe(200);
    expect((await progress()).total).toBe(before.total - 1);
    expect((await progress('?as_of=2011-08-31')).total).toBe(71);
    expect((await h.api.patch(`/api/v1/departments/${id}`).set(accountant.auth).send({ active: true })).status).toBe(200);
    expect((await progress()).total).toBe(before.total);
  });

  it('reports nothing as of a day before the units were listed', async () => {
    expect((await progress('?as_of=2011-08-30')).total).toBe(0);
  });

  it('keeps the history of a status change and reports each date as it was', async () => {
    const id = idOf.get('XJ064')!; // 自治区团委, not started in the notice
    const unit = await makeUser(h.db, 'department', id);
    const change = await h.api
      .put(`/api/v1/departments/${id}/status`)
      .set(unit.auth)
      .send({ status: 'procuring', effective_date: '2011-09-05', note: '已落实经费' });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({ status: 'procuring', accepted_on: null });
    const history = await h.api.get(`/api/v1/departments/${id}/status-history`).set(unit.auth);
    expect(history.body.items.map((c: { status: string; effective_date: string }) => `${c.effective_date} ${c.status}`)).toEqual([
      '2011-09-05 procuring',
      '2011-08-31 not_started',
    ]);
    expect(history.body.items[0]).toMatchObject({ note: '已落实经费', changed_by: unit.id });
    expect((await progress('?as_of=2011-09-01')).by_status.not_started).toBe(8);
    expect((await progress('?as_of=2011-09-05')).by_status.not_started).toBe(7);
    // Put it back for the other tests of this file.
    await h.api
      .put(`/api/v1/departments/${id}/status`)
      .set(accountant.auth)
      .send({ status: 'not_started', effective_date: '2011-09-06', note: '测试后恢复原状态' });
  });

  it('lets only an accountant record acceptance, only for a completed unit', async () => {
    const id = idOf.get('XJ005')!; // 统计局, completed
    const unit = await makeUser(h.db, 'department', id);
    const byUnit = await h.api
      .put(`/api/v1/departments/${id}/status`)
      .set(unit.auth)
      .send({ status: 'completed', effective_date: '2011-08-31', accepted_on: '2011-09-01' });
    expect(byUnit.status).toBe(403);
    const notCompleted = await h.api
      .put(`/api/v1/departments/${idOf.get('XJ033')}/status`)
      .set(accountant.auth)
      .send({ status: 'procuring', effective_date: '2011-09-01', accepted_on: '2011-09-02' });
    expect(notCompleted.status).toBe(422);
    expect(notCompleted.body.errors[0].field).toBe('accepted_on');
    const accepted = await h.api
      .put(`/api/v1/departments/${id}/status`)
      .set(accountant.auth)
      .send({ status: 'completed', effective_date: '2011-08-31', accepted_on: '2011-09-01', note: '验收合格' });
    expect(accepted.body).toMatchObject({ status: 'completed', accepted_on: '2011-09-01' });
    const undo = await h.api.put(`/api/v1/departments/${id}/status`).set(unit.auth).send({ status: 'procuring', effective_date: '2011-09-02' });
    expect(undo.status).toBe(409);
  });

  it("hides another department's status and history (404) and refuses a date in the future", async () => {
    const unit = await makeUser(h.db, 'department', idOf.get('XJ001')!);
    expect(
      (
        await h.api
          .put(`/api/v1/departments/${idOf.get('XJ002')}/status`)
          .set(unit.auth)
          .send({ status: 'completed', effective_date: '2011-09-01' })
      ).status,
    ).toBe(404);
    expect((await h.api.get(`/api/v1/departments/${idOf.get('XJ002')}/status-history`).set(unit.auth)).status).toBe(404);
    const future = await h.api
      .put(`/api/v1/departments/${idOf.get('XJ001')}/status`)
      .set(unit.auth)
      .send({ status: 'completed', effective_date: '2999-01-01' });
    expect(future.status).toBe(422);
  });

  it('lists written reports filed and overdue after the deadline', async () => {
    expect(
      (await h.api.put('/api/v1/progress/deadline').set(accountant.auth).send({ deadline: '2011-09-20', title: '未开展软件正版化工作单位专题书面报告' }))
        .status,
    ).toBe(200);
    const id = idOf.get('XJ065')!; // 交通运输厅, not started
    const unit = await makeUser(h.db, 'department', id);
    const filed = await h.api.post(`/api/v1/departments/${id}/written-reports`).set(unit.auth).send({ body: '因经费未落实，计划于10月底前完成。' });
    expect(filed.status).toBe(201);
    expect((await h.api.post(`/api/v1/departments/${id}/written-reports`).set(unit.auth).send({ body: '再报一次' })).status).toBe(409);
    const completedUnit = await makeUser(h.db, 'department', idOf.get('XJ005')!);
    expect(
      (
        await h.api
          .post(`/api/v1/departments/${idOf.get('XJ005')}/written-reports`)
          .set(completedUnit.auth)
          .send({ body: 'x' })
      ).status,
    ).toBe(409);
    const r = await progress();
    expect(r.written_reports.filed.map((u: { code: string }) => u.code)).toEqual(['XJ065']);
    expect(r.written_reports.past_deadline).toBe(true);
    expect(r.written_reports.overdue).toHaveLength(7);
    expect(r.written_reports.overdue.map((u: { code: string }) => u.code)).not.toContain('XJ065');
  });

  it('prints the bulletin (通报) with every unit by name, the figures and the overdue reports, as real text', async () => {
    // As of today: the written report above was filed today, after the deadline had passed.
    const res = await h.api.get('/api/v1/progress/bulletin.pdf').set(auditor.auth).buffer(true).parse(binaryParser);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const text = (await pdfText(res.body)).join('\n').replace(/\s+/g, '');
    expect(text).toContain('软件正版化工作进展情况通报');
    expect(text).toContain(chineseDate(todayInShanghai()));
    expect(text).toContain('43.66%');
    expect(text).toContain('88.73%');
    for (const line of units2011.trim().split('\n').slice(1)) expect(text).toContain(line.split(',')[1]);
    expect(text).toContain('已报送（1个）：交通运输厅');
    expect(text).toMatch(/逾期未报送（7个）/);
    expect(text).toMatch(/第1页共\d+页/);
    // Anchored outside the database: the witness holds its SHA-256.
    const digest = createHash('sha256').update(res.body).digest('hex');
    expect(res.headers['x-document-sha256']).toBe(digest);
    expect(await readFile(h.witnessFile, 'utf8')).toContain(`"sha256":"${digest}"`);
  });
});
