import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocationFixtures } from '../support/allocation-fixtures.ts';
import { makeDepartment, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let accountant: TestUser;
let checker: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
});
afterAll(async () => {
  await h.close();
});

const setStatus = (id: string, who: TestUser, body: Record<string, unknown>) => h.api.put(`/api/v1/departments/${id}/status`).set(who.auth).send(body);

/** A unit that reported itself completed, as the 2011 notice's units did. */
async function completedUnit() {
  const d = await makeDepartment(h.db);
  const user = await makeUser(h.db, 'department', d.id);
  await h
    .db('department_status_changes')
    .insert({ department_id: d.id, status: 'not_started', effective_date: '2011-06-01', changed_by: accountant.id, note: '登记' });
  expect((await setStatus(d.id, user, { status: 'completed', effective_date: '2011-08-01' })).status).toBe(200);
  return { ...d, user };
}

describe('finding 3: a unit moved itself from 已完成 back to 未开展 with no review', () => {
  it('refuses a unit moving its own status back (409 STATUS_REGRESSION, in Chinese) and changes nothing', async () => {
    const u = await completedUnit();
    const res = await setStatus(u.id, u.user, { status: 'not_started', effective_date: '2011-09-01' });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('STATUS_REGRESSION');
    expect(res.body.detail).toMatch(/^单位只能向前报告状态，不能从“已完成”退回到“未开展”/);
    expect((await h.db('departments').where({ id: u.id }).first('status')).status).toBe('completed');
    // The database holds the same line whoever writes.
    await expect(
      h.db('department_status_changes').insert({ department_id: u.id, status: 'procuring', effective_date: '2011-09-01', changed_by: u.user.id, note: 'x' }),
    ).rejects.toMatchObject({ constraint: 'department_status_forward_only' });
  });

  it('lets a unit move forward, and an accountant move it back only with a reason', async () => {
    const d = await makeDepartment(h.db);
    const user = await makeUser(h.db, 'department', d.id);
    expect((await setStatus(d.id, user, { status: 'procuring', effective_date: '2011-08-01' })).status).toBe(200);
    const noReason = await setStatus(d.id, accountant, { status: 'not_started', effective_date: '2011-09-01' });
    expect(noReason.status).toBe(422);
    expect(noReason.body.errors).toEqual([{ field: 'note', message: '退回到之前的状态须填写理由' }]);
    const withReason = await setStatus(d.id, accountant, { status: 'not_started', effective_date: '2011-09-01', note: '核查发现尚未采购' });
    expect(withReason.status).toBe(200);
    expect(withReason.body.status).toBe('not_started');
    await expect(
      h
        .db('department_status_changes')
        .insert({ department_id: d.id, status: 'not_started', effective_date: '2011-09-02', changed_by: accountant.id, note: '' }),
    ).resolves.toBeDefined();
  });
});

describe('finding 5: acceptance recorded one unit at a time', () => {
  it('accepts many completed units in one request and the next run includes them', async () => {
    const fx = allocationFixtures(h, accountant, checker);
    const fundId = await fx.fundWithPolicy();
    const units = [await completedUnit(), await completedUnit(), await completedUnit()];
    for (const u of units) await fx.verifiedReceipt(fundId, u.id, [{ product: 'Windows', category: 'os', licences: 1, amount: '100.00' }]);
    const before = await fx.newRun(fundId);
    expect(
      before.body.excluded.filter((x: { department_id: string }) => units.some((u) => u.id === x.department_id)).map((x: { reason: string }) => x.reason),
    ).toEqual(['not_accepted', 'not_accepted', 'not_accepted']);
    const res = await h.api
      .post('/api/v1/departments/acceptance')
      .set(accountant.auth)
      .send({ department_ids: units.map((u) => u.id), accepted_on: '2011-08-20' });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(3);
    for (const u of units) expect((await h.db('departments').where({ id: u.id }).first('accepted_on')).accepted_on).toBe('2011-08-20');
    const after = await fx.newRun(fundId);
    expect(after.body.lines.map((l: { department_id: string }) => l.department_id).sort()).toEqual(units.map((u) => u.id).sort());
  });

  it('accepts none when one unit is not completed, naming it (409), and refuses a unit user (403)', async () => {
    const done = await completedUnit();
    const notDone = await makeDepartment(h.db, { status: 'procuring', name: '尚在采购的单位' });
    const res = await h.api
      .post('/api/v1/departments/acceptance')
      .set(accountant.auth)
      .send({ department_ids: [done.id, notDone.id], accepted_on: '2011-08-20' });
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain('尚在采购的单位');
    expect((await h.db('departments').where({ id: done.id }).first('accepted_on')).accepted_on).toBeNull();
    expect(
      (
        await h.api
          .post('/api/v1/departments/acceptance')
          .set(done.user.auth)
          .send({ department_ids: [done.id], accepted_on: '2011-08-20' })
      ).status,
    ).toBe(403);
  });

  it.each([
    ['no units', { department_ids: [], accepted_on: '2011-08-20' }, 422],
    ['an impossible date', { department_ids: ['1'], accepted_on: '2011-02-30' }, 422],
    ['a date in the future', { department_ids: ['1'], accepted_on: '2999-01-01' }, 422],
    ['a unit that does not exist', { department_ids: ['999999999'], accepted_on: '2011-08-20' }, 404],
  ])('refuses %s', async (_name, body, status) => {
    const res = await h.api.post('/api/v1/departments/acceptance').set(accountant.auth).send(body);
    expect(res.status).toBe(status);
    expect(res.body.detail).toMatch(/[\u4e00-\u9fff]/);
  });

  it('refuses an acceptance dated before the unit completed', async () => {
    const u = await completedUnit();
    const res = await h.api
      .post('/api/v1/departments/acceptance')
      .set(accountant.auth)
      .send({ department_ids: [u.id], accepted_on: '2011-07-01' });
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain('验收日期不能更早');
  });
});

describe('inactive units', () => {
  it('take no new receipts, status reports, acceptance or users', async () => {
    const u = await completedUnit();
    expect((await h.api.patch(`/api/v1/departments/${u.id}`).set(accountant.auth).send({ active: false })).status).toBe(200);
    const fx = allocationFixtures(h, accountant, checker);
    const fundId = await fx.fundWithPolicy();
    expect((await h.api.post(`/api/v1/departments/${u.id}/receipts`).set(u.user.auth).send(receiptBody(fundId))).status).toBe(409);
    expect((await setStatus(u.id, accountant, { status: 'completed', effective_date: '2011-09-01', accepted_on: '2011-09-01' })).status).toBe(409);
    expect(
      (
        await h.api
          .post('/api/v1/departments/acceptance')
          .set(accountant.auth)
          .send({ department_ids: [u.id], accepted_on: '2011-08-20' })
      ).status,
    ).toBe(409);
  });
});
