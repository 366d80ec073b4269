import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser, openOwner } from '../support/harness.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

const standardPolicy = {
  rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' },
  licence_caps: { office: '600.00', antivirus: '100.00' },
  require_completed: true,
};

async function fundWithPolicy(appropriation = '1000000.00', policy: object = standardPolicy) {
  const fundId = await makeFund(h, maker, appropriation);
  const res = await h.api.put(`/api/v1/funds/${fundId}/policy`).set(maker.auth).send(policy);
  expect(res.status).toBe(201);
  return fundId;
}

/** A completed, accepted unit with one verified receipt: os licences × price. */
async function acceptedUnitWithReceipt(fundId: string, lines: Array<{ product: string; category: string; licences: number; amount: string }>) {
  const d = await makeDepartment(h.db, { status: 'completed' });
  await h.api.put(`/api/v1/departments/${d.id}/status`).set(maker.auth).send({ status: 'completed', effective_date: '2011-08-01', accepted_on: '2011-08-20' });
  const total = lines.reduce((s, l) => s + Math.round(Number(l.amount) * 100), 0);
  const receipt = await h.api
    .post(`/api/v1/departments/${d.id}/receipts`)
    .set(maker.auth)
    .send(receiptBody(fundId, { lines, total: (total / 100).toFixed(2) }));
  expect(receipt.status).toBe(201);
  await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({});
  return { ...d, receiptId: String(receipt.body.id) };
}

const newRun = (fundId: string, user = maker) => h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(user.auth).send({ as_of: '2011-09-30' });
const approve = (runId: string, user = checker) => h.api.post(`/api/v1/allocation-runs/${runId}/approve`).set(user.auth).send({});
const fundOf = async (id: string) => (await h.api.get(`/api/v1/funds/${id}`).set(auditor.auth)).body;

describe('policy', () => {
  it('keeps every version; a new one never edits the old', async () => {
    const fundId = await fundWithPolicy();
    await h.api
      .put(`/api/v1/funds/${fundId}/policy`)
      .set(maker.auth)
      .send({ ...standardPolicy, department_ceiling: '30000.00' });
    const list = await h.api.get(`/api/v1/funds/${fundId}/policies`).set(auditor.auth);
    expect(list.body.items.map((p: { version: number; department_ceiling: string | null }) => [p.version, p.department_ceiling])).toEqual([
      [2, '30000.00'],
      [1, null],
    ]);
    expect(list.body.items[1].rates).toEqual({ os: '0.5000', office: '0.5000', antivirus: '0.5000', other: '0.5000' });
  });

  it.each([
    ['a rate above 1', { ...standardPolicy, rates: { ...standardPolicy.rates, os: '1.5' } }],
    ['a rate as a number', { ...standardPolicy, rates: { ...standardPolicy.rates, os: 0.5 } }],
    ['a missing category', { ...standardPolicy, rates: { os: '0.5', office: '0.5', antivirus: '0.5' } }],
    ['a cap with three decimals', { ...standardPolicy, licence_caps: { office: '600.001' } }],
  ])('refuses %s with 422', async (_name, body) => {
    const fundId = await makeFund(h, maker);
    expect((await h.api.put(`/api/v1/funds/${fundId}/policy`).set(maker.auth).send(body)).status).toBe(422);
  });

  it('refuses a run before any policy with 409 NO_POLICY', async () => {
    const fundId = await makeFund(h, maker, '100.00');
    expect((await newRun(fundId)).body.code).toBe('NO_POLICY');
  });
});

describe('allocation runs', () => {
  it('computes a draft with explanations, and a second accountant approves it into the books', async () => {
    const fundId = await fundWithPolicy();
    const u = await acceptedUnitWithReceipt(fundId, [
      { product: 'Windows 7', category: 'os', licences: 10, amount: '8200.00' },
      { product: 'Office 2010', category: 'office', licences: 10, amount: '14095.00' },
    ]);
    const draft = await newRun(fundId);
    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ status: 'draft', total: '10100.00' });
    expect(draft.body.lines).toEqual([
      expect.objectContaining({
        department_id: u.id,
        entitlement: '10100.00',
        previously_allocated: '0.00',
        amount: '10100.00',
        explanation: expect.objectContaining({ qualifies: true, factor: '1' }),
      }),
    ]);
    expect((await fundOf(fundId)).allocated).toBe('0.00');
    const approved = await approve(draft.body.id);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approved_by: checker.id });
    expect(approved.body.lines[0].entry_id).toEqual(expect.any(String));
    expect(await fundOf(fundId)).toMatchObject({ allocated: '10100.00', available_to_allocate: '989900.00' });
    const position = await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(auditor.auth);
    expect(position.body).toMatchObject({ entitlement: '10100.00', allocated: '10100.00', paid: '0.00', payable: '10100.00', to_recover: '0.00' });
  });

  it('refuses approval by the accountant who made the run (403), and the database refuses it too', async () => {
    const fundId = await fundWithPolicy();
    await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '100.00' }]);
    const draft = await newRun(fundId);
    const own = await approve(draft.body.id, maker);
    expect(own.status).toBe(403);
    expect(own.body.code).toBe('SAME_ACCOUNTANT');
    await expect(h.db('allocation_runs').where({ id: draft.body.id }).update({ status: 'approved', approved_by: maker.id })).rejects.toMatchObject({
      constraint: 'allocation_runs_maker_checker',
    });
  });

  it('refuses to approve a stale run (409 RUN_STALE) once a receipt is verified after it was computed', async () => {
    const fundId = await fundWithPolicy();
    const u = await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '100.00' }]);
    const draft = await newRun(fundId);
    const late = await h.api.post(`/api/v1/departments/${u.id}/receipts`).set(maker.auth).send(receiptBody(fundId));
    await h.api.post(`/api/v1/receipts/${late.body.id}/verify`).set(maker.auth).send({});
    const res = await approve(draft.body.id);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RUN_STALE');
    expect((await fundOf(fundId)).allocated).toBe('0.00');
  });

  it('approves a run once when two approvals race', async () => {
    const fundId = await fundWithPolicy();
    await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '100.00' }]);
    const draft = await newRun(fundId);
    const third = await makeUser(h.db, 'accountant');
    const results = await Promise.all([approve(draft.body.id, checker), approve(draft.body.id, third)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await fundOf(fundId)).allocated).toBe('50.00');
  });

  it('allocates only what is newly due in a later run; nothing twice', async () => {
    const fundId = await fundWithPolicy();
    await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '100.00' }]);
    await approve((await newRun(fundId)).body.id);
    const second = await newRun(fundId);
    expect(second.body.total).toBe('0.00');
    await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '300.00' }]);
    const third = await newRun(fundId);
    expect(third.body.total).toBe('150.00');
    expect(third.body.lines.filter((l: { amount: string }) => l.amount !== '0.00')).toHaveLength(1);
    // Computing the third superseded the second: it can no longer be approved or cancelled.
    expect((await h.api.get(`/api/v1/allocation-runs/${second.body.id}`).set(auditor.auth)).body).toMatchObject({
      status: 'superseded',
      superseded_by: third.body.id,
    });
    expect((await h.api.post(`/api/v1/allocation-runs/${second.body.id}/cancel`).set(maker.auth).send({})).status).toBe(409);
    await approve(third.body.id);
    expect((await fundOf(fundId)).allocated).toBe('200.00');
  });

  it('scales to the fund exactly when dues exceed it', async () => {
    const fundId = await fundWithPolicy('100.00');
    for (let i = 0; i < 3; i++) await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '200.00' }]);
    const draft = await newRun(fundId);
    expect(draft.body.total).toBe('100.00');
    expect(draft.body.lines.map((l: { amount: string }) => l.amount).sort()).toEqual(['33.33', '33.33', '33.34']);
    await approve(draft.body.id);
    expect(await fundOf(fundId)).toMatchObject({ allocated: '100.00', available_to_allocate: '0.00' });
  });

  it('claws back unpaid reward after a verified receipt is rejected, and shows what was paid as to recover', async () => {
    const fundId = await fundWithPolicy();
    const u = await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '1000.00' }]);
    await approve((await newRun(fundId)).body.id);
    const pay = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '200.00', voucher_no: unique('V'), date: '2011-10-01' });
    await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(checker.auth).send({});
    await h.api.post(`/api/v1/receipts/${u.receiptId}/reject`).set(maker.auth).send({ reason: '发票作废' });
    const run = await newRun(fundId);
    expect(run.body.lines).toEqual([
      expect.objectContaining({ department_id: u.id, entitlement: '0.00', due: '-500.00', clawback: '300.00', to_recover: '200.00', amount: '0.00' }),
    ]);
    await approve(run.body.id);
    const position = await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(auditor.auth);
    expect(position.body).toMatchObject({ entitlement: '0.00', allocated: '200.00', paid: '200.00', payable: '0.00', to_recover: '200.00' });
    const refund = await h.api
      .post(`/api/v1/funds/${fundId}/refunds`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '200.00', voucher_no: unique('R'), date: '2011-11-01' });
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({ kind: 'refund', status: 'pending', entry_id: null });
    expect((await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(auditor.auth)).body).toMatchObject({ paid: '200.00' });
    expect((await h.api.post(`/api/v1/disbursements/${refund.body.id}/approve`).set(maker.auth).send({})).status).toBe(403);
    const approvedRefund = await h.api.post(`/api/v1/disbursements/${refund.body.id}/approve`).set(checker.auth).send({});
    expect(approvedRefund.body).toMatchObject({ status: 'approved', entry_id: expect.any(String) });
    const refundEntry = await h.api.get(`/api/v1/journal-entries/${approvedRefund.body.entry_id}`).set(auditor.auth);
    expect(refundEntry.body).toMatchObject({ kind: 'refund', created_by: maker.id, approved_by: checker.id });
    expect(await fundOf(fundId)).toMatchObject({ disbursed: '0.00' });
    const settled = await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(auditor.auth);
    expect(settled.body).toMatchObject({ paid: '0.00', payable: '200.00', to_recover: '0.00' });
    const verify = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth);
    expect(verify.body.ok).toBe(true);
  });
});

describe('disbursements', () => {
  async function fundedUnit(amount: string) {
    const fundId = await fundWithPolicy();
    const u = await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: String(Number(amount) * 2) }]);
    await approve((await newRun(fundId)).body.id);
    return { fundId, u };
  }

  it('posts a payment in both books once another accountant approves it', async () => {
    const { fundId, u } = await fundedUnit('500.00');
    const created = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '120.00', voucher_no: unique('V'), date: '2011-10-01' });
    expect(created.body).toMatchObject({ status: 'pending', amount: '120.00', entry_id: null });
    expect((await h.api.post(`/api/v1/disbursements/${created.body.id}/approve`).set(maker.auth).send({})).status).toBe(403);
    const approved = await h.api.post(`/api/v1/disbursements/${created.body.id}/approve`).set(checker.auth).send({});
    expect(approved.body).toMatchObject({ status: 'approved', entry_id: expect.any(String) });
    expect(await fundOf(fundId)).toMatchObject({ disbursed: '120.00', cash_balance: '999880.00' });
    const twice = await h.api.post(`/api/v1/disbursements/${created.body.id}/approve`).set(checker.auth).send({});
    expect([twice.status, twice.body.code]).toEqual([409, 'ALREADY_POSTED']);
  });

  it('refuses a payment above what the unit is owed, a reused voucher, and cancels a pending one', async () => {
    const { fundId, u } = await fundedUnit('100.00');
    expect(
      (
        await h.api
          .post(`/api/v1/funds/${fundId}/disbursements`)
          .set(maker.auth)
          .send({ department_id: u.id, amount: '100.01', voucher_no: unique('V'), date: '2011-10-01' })
      ).body.code,
    ).toBe('EXCEEDS_PAYABLE');
    const voucher = unique('V');
    const first = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '10.00', voucher_no: voucher, date: '2011-10-01' });
    const again = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '10.00', voucher_no: voucher, date: '2011-10-01' });
    expect(again.status).toBe(409);
    expect((await h.api.post(`/api/v1/disbursements/${first.body.id}/cancel`).set(maker.auth).send({})).body.status).toBe('cancelled');
    expect((await h.api.post(`/api/v1/disbursements/${first.body.id}/approve`).set(checker.auth).send({})).status).toBe(409);
  });

  it('prepares exactly 5 of 10 concurrent payments against a payable that fits 5; the 5 then all post', async () => {
    const { fundId, u } = await fundedUnit('500.00');
    const prepared = await Promise.all(
      Array.from({ length: 10 }, () =>
        h.api
          .post(`/api/v1/funds/${fundId}/disbursements`)
          .set(maker.auth)
          .send({ department_id: u.id, amount: '100.00', voucher_no: unique('V'), date: '2011-10-01' }),
      ),
    );
    expect(prepared.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(Array(5).fill('EXCEEDS_PAYABLE'));
    const pending = prepared.filter((r) => r.status === 201).map((r) => r.body.id as string);
    expect(pending).toHaveLength(5);
    const results = await Promise.all(pending.map((id) => h.api.post(`/api/v1/disbursements/${id}/approve`).set(checker.auth).send({})));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill(200));
    const position = await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(auditor.auth);
    expect(position.body).toMatchObject({ paid: '500.00', payable: '0.00' });
  });

  it('refuses a refund larger than what was paid', async () => {
    const { fundId, u } = await fundedUnit('100.00');
    const res = await h.api
      .post(`/api/v1/funds/${fundId}/refunds`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '0.01', voucher_no: unique('R'), date: '2011-10-01' });
    expect(res.body.code).toBe('EXCEEDS_PAYABLE');
  });

  it('shows a department its own position only', async () => {
    const { fundId, u } = await fundedUnit('100.00');
    const own = await makeUser(h.db, 'department', u.id);
    const other = await makeUser(h.db, 'department', (await makeDepartment(h.db)).id);
    expect((await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(own.auth)).body.allocated).toBe('100.00');
    expect((await h.api.get(`/api/v1/funds/${fundId}/departments/${u.id}/position`).set(other.auth)).status).toBe(404);
  });
});

describe('decisions in the database', () => {
  it('refuses to edit a run, its lines or a payment by direct SQL, or to approve one twice', async () => {
    const fundId = await fundWithPolicy();
    const u = await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: '100.00' }]);
    const run = await newRun(fundId);
    await expect(h.db('allocation_lines').where({ run_id: run.body.id }).update({ amount: '999.00' })).rejects.toThrow(/never edited/);
    await expect(h.db('allocation_runs').where({ id: run.body.id }).update({ total: '999.00' })).rejects.toThrow(/never edited/);
    await approve(run.body.id);
    await expect(h.db('allocation_runs').where({ id: run.body.id }).update({ status: 'cancelled' })).rejects.toThrow(/never edited/);
    const pay = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: u.id, amount: '10.00', voucher_no: unique('V'), date: '2011-10-01' });
    await expect(h.db('disbursements').where({ id: pay.body.id }).update({ amount: '49.00' })).rejects.toThrow(/never edited/);
    await expect(h.db('disbursements').where({ id: pay.body.id }).del()).rejects.toThrow(/permission denied/);
    const owner = openOwner();
    try {
      await expect(owner('disbursements').where({ id: pay.body.id }).del()).rejects.toThrow(/append-only/);
    } finally {
      await owner.destroy();
    }
  });
});
