import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocationFixtures } from '../support/allocation-fixtures.ts';
import { makeDepartment, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
let fx: ReturnType<typeof allocationFixtures>;
beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fx = allocationFixtures(h, maker, checker);
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

const os = (amount: string) => [{ product: 'Windows', category: 'os', licences: 1, amount }];
const prepare = (fundId: string, departmentId: string, amount: string, who = maker) =>
  h.api
    .post(`/api/v1/funds/${fundId}/disbursements`)
    .set(who.auth)
    .send({ department_id: departmentId, amount, voucher_no: unique('V'), date: '2011-10-01' });

describe('finding 5: units silently dropped out of a run', () => {
  it('lists every unit left out with its reason code', async () => {
    const fundId = await fx.fundWithPolicy('1000000.00', {
      rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' },
      department_ceiling: '100.00',
      require_completed: true,
    });
    const paid = await fx.acceptedUnitWithReceipt(fundId, os('1000.00'));
    await fx.approve((await fx.newRun(fundId)).body.id);
    const notCompleted = await makeDepartment(h.db, { status: 'procuring' });
    await fx.verifiedReceipt(fundId, notCompleted.id, os('100.00'));
    const notAccepted = await makeDepartment(h.db, { status: 'completed' });
    await fx.verifiedReceipt(fundId, notAccepted.id, os('100.00'));
    const noReceipts = await makeDepartment(h.db, { status: 'completed' });
    const onlySubmitted = await makeDepartment(h.db, { status: 'procuring' });
    await h.api.post(`/api/v1/departments/${onlySubmitted.id}/receipts`).set(maker.auth).send(receiptBody(fundId));
    const run = await fx.newRun(fundId);
    expect(run.status).toBe(201);
    const reasonOf = (id: string) => run.body.excluded.find((x: { department_id: string }) => x.department_id === id);
    expect(reasonOf(paid.id)).toEqual({ department_id: paid.id, department_code: paid.code, department_name: paid.name, reason: 'ceiling_reached' });
    expect(reasonOf(notCompleted.id).reason).toBe('not_completed');
    expect(reasonOf(notAccepted.id).reason).toBe('not_accepted');
    expect(reasonOf(noReceipts.id).reason).toBe('no_verified_receipts');
    expect(reasonOf(onlySubmitted.id).reason).toBe('no_verified_receipts');
    expect((await h.api.get(`/api/v1/allocation-runs/${run.body.id}`).set(auditor.auth)).body.excluded).toEqual(run.body.excluded);
  });

  it('says nothing_new for a unit allocated in full before', async () => {
    const fundId = await fx.fundWithPolicy();
    const u = await fx.acceptedUnitWithReceipt(fundId, os('100.00'));
    await fx.approve((await fx.newRun(fundId)).body.id);
    const again = await fx.newRun(fundId);
    expect(again.body.excluded).toContainEqual(expect.objectContaining({ department_id: u.id, reason: 'nothing_new' }));
  });
});

describe('finding 6: a stale draft stays 待审批 for ever', () => {
  it('marks older drafts superseded when a new run is computed; neither a superseded nor a stale draft can be approved', async () => {
    const fundId = await fx.fundWithPolicy();
    const u = await fx.acceptedUnitWithReceipt(fundId, os('100.00'));
    const first = await fx.newRun(fundId);
    await fx.verifiedReceipt(fundId, u.id, os('200.00'));
    const shown = await h.api.get(`/api/v1/allocation-runs/${first.body.id}`).set(auditor.auth);
    expect(shown.body).toMatchObject({ status: 'stale', stale: true });
    const stale = await fx.approve(first.body.id);
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('RUN_STALE');
    // The detail adds to the title rather than repeating it.
    expect(stale.body.detail).not.toContain('重新计算');
    const second = await fx.newRun(fundId);
    const list = await h.api.get(`/api/v1/funds/${fundId}/allocation-runs`).set(auditor.auth);
    expect(list.body.items.map((r: { id: string; status: string; created_by_name: string }) => [r.id, r.status, r.created_by_name])).toEqual([
      [second.body.id, 'draft', maker.username],
      [first.body.id, 'superseded', maker.username],
    ]);
    const superseded = await fx.approve(first.body.id);
    expect(superseded.status).toBe(409);
    expect(superseded.body.code).toBe('RUN_SUPERSEDED');
    expect(superseded.body.detail).toContain(`第 ${second.body.id} 批`);
    const approved = await fx.approve(second.body.id);
    expect(approved.body).toMatchObject({ status: 'approved', created_by_name: maker.username, approved_by_name: checker.username });
    await expect(h.db('allocation_runs').where({ id: first.body.id }).update({ status: 'draft' })).rejects.toThrow(/never edited/);
  });

  it('leaves exactly one draft when runs are computed concurrently', async () => {
    const fundId = await fx.fundWithPolicy();
    await fx.acceptedUnitWithReceipt(fundId, os('100.00'));
    const runs = await Promise.all(Array.from({ length: 4 }, () => fx.newRun(fundId)));
    expect(runs.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const states = await h.db('allocation_runs').where({ fund_id: fundId }).pluck('status');
    expect(states.filter((s) => s === 'draft')).toHaveLength(1);
    expect(states.filter((s) => s === 'superseded')).toHaveLength(3);
  });
});

describe('finding 4: two pending payments each for the whole payable', () => {
  it('refuses the second at prepare (409 EXCEEDS_PAYABLE) with what is reserved and what is left', async () => {
    const { fundId, u } = await fx.fundedUnit('500.00');
    expect((await prepare(fundId, u.id, '500.00')).status).toBe(201);
    const second = await prepare(fundId, u.id, '500.00');
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('EXCEEDS_PAYABLE');
    expect(second.body.detail).toBe('该单位应付未付 500.00 元，其中 500.00 元已有待审批的拨付，还可拨付 0.00 元；本笔 500.00 元超出 500.00 元。');
  });

  it('frees the reservation when a pending payment is cancelled', async () => {
    const { fundId, u } = await fx.fundedUnit('100.00');
    const first = await prepare(fundId, u.id, '100.00');
    await h.api.post(`/api/v1/disbursements/${first.body.id}/cancel`).set(maker.auth).send({});
    expect((await prepare(fundId, u.id, '100.00')).status).toBe(201);
  });

  it('lets the database refuse a pending payment beyond the payable, whoever inserts it', async () => {
    const { fundId, u } = await fx.fundedUnit('100.00');
    await expect(
      h
        .db('disbursements')
        .insert({ fund_id: fundId, department_id: u.id, amount: '100.01', voucher_no: unique('V'), pay_date: '2011-10-01', created_by: maker.id }),
    ).rejects.toMatchObject({ constraint: 'disbursements_within_payable' });
  });

  it('lets only one of two concurrent direct inserts for the whole payable through (the trigger locks the payable)', async () => {
    const { fundId, u } = await fx.fundedUnit('100.00');
    const insert = () =>
      h.db.transaction(async (trx) => {
        await trx('disbursements').insert({
          fund_id: fundId,
          department_id: u.id,
          amount: '100.00',
          voucher_no: unique('V'),
          pay_date: '2011-10-01',
          created_by: maker.id,
        });
        // Hold the transaction open a moment, so the other insert really waits on the lock.
        await trx.raw('SELECT pg_sleep(0.2)');
      });
    const results = await Promise.allSettled([insert(), insert(), insert()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.constraint)).toEqual([
      'disbursements_within_payable',
      'disbursements_within_payable',
    ]);
  });

  it('posts a payment once when a bulk approval and a single approval race', async () => {
    const { fundId, u } = await fx.fundedUnit('100.00');
    const p = await prepare(fundId, u.id, '100.00');
    const results = await Promise.all([
      h.api
        .post('/api/v1/disbursements/approve')
        .set(checker.auth)
        .send({ ids: [p.body.id] }),
      h.api.post(`/api/v1/disbursements/${p.body.id}/approve`).set(checker.auth).send({}),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body.disbursed).toBe('100.00');
  });

  it('prepares the payments of a whole run in one request, then approves them all at once', async () => {
    const fundId = await fx.fundWithPolicy();
    const a = await fx.acceptedUnitWithReceipt(fundId, os('200.00'));
    const b = await fx.acceptedUnitWithReceipt(fundId, os('400.00'));
    const run = await fx.newRun(fundId);
    expect((await h.api.post(`/api/v1/allocation-runs/${run.body.id}/disbursements`).set(maker.auth).send({ date: '2011-10-01' })).status).toBe(409);
    await fx.approve(run.body.id);
    await prepare(fundId, a.id, '30.00');
    const prepared = await h.api.post(`/api/v1/allocation-runs/${run.body.id}/disbursements`).set(maker.auth).send({ date: '2011-10-01' });
    expect(prepared.status).toBe(201);
    expect(
      prepared.body.items
        .map((p: { department_id: string; amount: string; status: string; run_id: string }) => [p.department_id, p.amount, p.status, p.run_id])
        .sort(),
    ).toEqual(
      [
        [a.id, '70.00', 'pending', run.body.id],
        [b.id, '200.00', 'pending', run.body.id],
      ].sort(),
    );
    expect((await h.api.post(`/api/v1/allocation-runs/${run.body.id}/disbursements`).set(maker.auth).send({ date: '2011-10-01' })).status).toBe(409);
    const ids = prepared.body.items.map((p: { id: string }) => p.id);
    expect((await h.api.post('/api/v1/disbursements/approve').set(maker.auth).send({ ids })).status).toBe(403);
    const approved = await h.api.post('/api/v1/disbursements/approve').set(checker.auth).send({ ids });
    expect(approved.status).toBe(200);
    expect(approved.body.items.map((p: { status: string }) => p.status)).toEqual(['approved', 'approved']);
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body.disbursed).toBe('270.00');
  });

  it('approves all or none, and a shortfall reads as plain Chinese: who, what is there, what is needed, how much is short', async () => {
    const { fundId, u, runId } = await fx.fundedUnit('500.00');
    const ok = await prepare(fundId, u.id, '300.00');
    const short = await prepare(fundId, u.id, '200.00');
    // A clawback reduces the payable under the pending payments (a receipt is found false).
    await h.api
      .post(`/api/v1/receipts/${(await h.db('receipts').where({ department_id: u.id }).first('id')).id}/reject`)
      .set(maker.auth)
      .send({ reason: '发票作废' });
    await fx.verifiedReceipt(fundId, u.id, os('600.00'));
    const clawback = await fx.newRun(fundId);
    expect((await fx.approve(clawback.body.id)).status).toBe(200);
    expect(runId).toBeDefined();
    const res = await h.api
      .post('/api/v1/disbursements/approve')
      .set(checker.auth)
      .send({ ids: [ok.body.id, short.body.id] });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('INSUFFICIENT_BALANCE');
    expect(res.body.detail).toBe(`未审批任何拨付：${u.name}（${u.code}）的应付未付奖励现有 300.00 元，本次需拨付 500.00 元，还差 200.00 元。`);
    expect(res.body.detail).not.toMatch(/entry|[0-9]{4}\.[A-Z]/);
    const states = await h.db('disbursements').whereIn('id', [ok.body.id, short.body.id]).pluck('status');
    expect(states).toEqual(['pending', 'pending']);
    expect((await h.api.post(`/api/v1/disbursements/${ok.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
  });
});

describe('bad input to the new endpoints is a 4xx in Chinese, never a 500, and changes nothing', () => {
  it.each([
    ['bulk approval without ids', '/api/v1/disbursements/approve', { ids: [] }, 422],
    ['bulk approval with a word for an id', '/api/v1/disbursements/approve', { ids: ['abc'] }, 422],
    ['bulk approval of a payment that does not exist', '/api/v1/disbursements/approve', { ids: ['999999999'] }, 404],
    ['run payments dated 2011-02-30', '/api/v1/allocation-runs/1/disbursements', { date: '2011-02-30' }, 422],
    ['run payments for a run that does not exist', '/api/v1/allocation-runs/999999999/disbursements', { date: '2011-10-01' }, 404],
    ['acceptance with ids as a string', '/api/v1/departments/acceptance', { department_ids: '1,2', accepted_on: '2011-08-20' }, 422],
  ])('%s → %s', async (_name, path, body, status) => {
    const res = await h.api.post(path).set(checker.auth).send(body);
    expect(res.status).toBe(status);
    expect(res.body.detail).toMatch(/[\u4e00-\u9fff]/);
  });

  it('refuses a correction that names a receipt by a word, and a verification with confirm_tax_id as a string', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await fx.fundWithPolicy();
    expect(
      (
        await h.api
          .post(`/api/v1/departments/${d.id}/receipts`)
          .set(maker.auth)
          .send(receiptBody(fundId, { supersedes_id: 'first' }))
      ).status,
    ).toBe(422);
    const r = await h.api.post(`/api/v1/departments/${d.id}/receipts`).set(maker.auth).send(receiptBody(fundId));
    expect((await h.api.post(`/api/v1/receipts/${r.body.id}/verify`).set(maker.auth).send({ confirm_tax_id: 'yes' })).status).toBe(422);
    expect((await h.db('receipts').where({ id: r.body.id }).first('status')).status).toBe('submitted');
  });
});
