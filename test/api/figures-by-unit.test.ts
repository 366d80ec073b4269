import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { receiptBody } from '../support/receipts.ts';

/*
 * The fund's money moves by entry kind, per unit: a manual entry, even approved by a second
 * accountant, corrects balances but cannot make a run allocate twice or claw back what was never
 * allocated, pay a unit what it was not allocated, or make room for a refund (the reviewer's repros).
 */
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

const policy = { rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, licence_caps: {}, require_completed: true };
type P = [string, 'debit' | 'credit', string];

async function fundWithUnit(appropriation = '1000000.00', receiptAmount = '1000.00') {
  const fundId = await makeFund(h, maker, appropriation);
  expect((await h.api.put(`/api/v1/funds/${fundId}/policy`).set(maker.auth).send(policy)).status).toBe(201);
  const d = await makeDepartment(h.db, { status: 'completed' });
  await h.api.put(`/api/v1/departments/${d.id}/status`).set(maker.auth).send({ status: 'completed', effective_date: '2011-08-01', accepted_on: '2011-08-20' });
  const receipt = await h.api
    .post(`/api/v1/departments/${d.id}/receipts`)
    .set(maker.auth)
    .send(receiptBody(fundId, { lines: [{ product: 'Windows', category: 'os', licences: 1, amount: receiptAmount }], total: receiptAmount }));
  await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({});
  return { fundId, d };
}

const newRun = (fundId: string) => h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
const approveRun = (id: string) => h.api.post(`/api/v1/allocation-runs/${id}/approve`).set(checker.auth).send({});
const fundOf = async (id: string) => (await h.api.get(`/api/v1/funds/${id}`).set(auditor.auth)).body;
const positionOf = async (fundId: string, d: string) => (await h.api.get(`/api/v1/funds/${fundId}/departments/${d}/position`).set(auditor.auth)).body;
const prepare = (fundId: string, postings: P[]) =>
  h.api
    .post(`/api/v1/funds/${fundId}/journal-entries`)
    .set(maker.auth)
    .send({ date: '2011-10-01', memo: '手工调整', postings: postings.map(([account_code, side, amount]) => ({ account_code, side, amount })) });
async function post(fundId: string, postings: P[]) {
  const prepared = await prepare(fundId, postings);
  expect(prepared.status, JSON.stringify(prepared.body)).toBe(201);
  const approved = await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/approve`).set(checker.auth).send({});
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
}
const pay = async (fundId: string, d: string, amount: string, kind: 'disbursements' | 'refunds' = 'disbursements') =>
  h.api
    .post(`/api/v1/funds/${fundId}/${kind}`)
    .set(maker.auth)
    .send({ department_id: d, amount, voucher_no: unique('V'), date: '2011-10-02' });
const snapshot = async (fundId: string) => ({
  fund: await h.db('funds').where({ id: fundId }).first('head_seq', 'appropriated', 'allocated', 'disbursed'),
  units: await h.db('fund_unit_figures').where({ fund_id: fundId }).orderBy('department_id').select('department_id', 'allocated', 'disbursed'),
  accounts: await h.db('accounts').where({ fund_id: fundId }).orderBy('id').select('code', 'balance'),
  payments: await h.db('disbursements').where({ fund_id: fundId }).count<{ n: string }[]>('* as n'),
});

describe('a manual entry does not move what a run allocates', () => {
  it('Dr 5001.d / Cr 2307.d 200000.00 after a run: the next run claws back nothing, and the payable it made pays nothing out', async () => {
    const { fundId, d } = await fundWithUnit();
    expect((await approveRun((await newRun(fundId)).body.id)).status).toBe(200);
    await post(fundId, [
      [`5001.${d.code}`, 'debit', '200000.00'],
      [`2307.${d.code}`, 'credit', '200000.00'],
    ]);
    const run = await newRun(fundId);
    expect(run.body).toMatchObject({ total: '0.00', clawed_back: '0.00' });
    expect(run.body.lines).toEqual([
      expect.objectContaining({ department_id: d.id, entitlement: '500.00', previously_allocated: '500.00', due: '0.00', amount: '0.00', clawback: '0.00' }),
    ]);
    expect((await approveRun(run.body.id)).status).toBe(200);
    expect(await fundOf(fundId)).toMatchObject({ appropriated: '1000000.00', allocated: '500.00', available_to_allocate: '999500.00' });
    const before = await snapshot(fundId);
    const tooMuch = await pay(fundId, d.id, '500.01');
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.code).toBe('EXCEEDS_PAYABLE');
    expect(await snapshot(fundId)).toEqual(before);
    expect(await positionOf(fundId, d.id)).toMatchObject({ allocated: '500.00', paid: '0.00', payable: '500.00' });
  });

  it('Dr 1011 / Cr 5001.d is refused (quota from nothing); Dr 2307.d / Cr 5001.d posts but the next run allocates nothing twice', async () => {
    const { fundId, d } = await fundWithUnit('1000000.00', '23275.00');
    expect((await approveRun((await newRun(fundId)).body.id)).status).toBe(200);
    const before = await snapshot(fundId);
    const quota = await prepare(fundId, [
      ['1011', 'debit', '11637.50'],
      [`5001.${d.code}`, 'credit', '11637.50'],
    ]);
    expect(quota.status).toBe(422);
    expect(quota.body.code).toBe('MANUAL_ENTRY_CREATES_QUOTA');
    expect(quota.body.detail).toMatch(/1011/);
    expect(await snapshot(fundId)).toEqual(before);
    await post(fundId, [
      [`2307.${d.code}`, 'debit', '11637.50'],
      [`5001.${d.code}`, 'credit', '11637.50'],
    ]);
    const run = await newRun(fundId);
    expect(run.body.total).toBe('0.00');
    expect(run.body.lines).toEqual([expect.objectContaining({ previously_allocated: '11637.50', amount: '0.00', clawback: '0.00' })]);
    expect(await fundOf(fundId)).toMatchObject({ allocated: '11637.50' });
  });
});

describe('a manual entry does not make room for a refund', () => {
  it('Dr 7101.d / Cr 8001 1500.00, then a refund of 1500.00 of the 1000.00 paid: refused, the fund still disbursed 1000.00', async () => {
    const { fundId, d } = await fundWithUnit('1000000.00', '4000.00');
    expect((await approveRun((await newRun(fundId)).body.id)).status).toBe(200);
    const paid = await pay(fundId, d.id, '1000.00');
    expect((await h.api.post(`/api/v1/disbursements/${paid.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
    await post(fundId, [
      [`7101.${d.code}`, 'debit', '1500.00'],
      ['8001', 'credit', '1500.00'],
    ]);
    const before = await snapshot(fundId);
    const refund = await pay(fundId, d.id, '1500.00', 'refunds');
    expect(refund.status).toBe(409);
    expect(refund.body.code).toBe('EXCEEDS_PAYABLE');
    expect(await snapshot(fundId)).toEqual(before);
    // Two refunds that each fit but together return more than was paid: the second approval is refused.
    const r1 = await pay(fundId, d.id, '600.00', 'refunds');
    const r2 = await pay(fundId, d.id, '600.00', 'refunds');
    expect((await h.api.post(`/api/v1/disbursements/${r1.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
    const second = await h.api.post(`/api/v1/disbursements/${r2.body.id}/approve`).set(checker.auth).send({});
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('EXCEEDS_PAYABLE');
    expect(await fundOf(fundId)).toMatchObject({ disbursed: '400.00' });
    expect(await positionOf(fundId, d.id)).toMatchObject({ paid: '400.00' });
  });
});

describe('a manual entry does not create payable from nothing', () => {
  it('Dr 1011 / Cr 2307.d and Dr 8001 / Cr 7101.d are refused; a payable made from an expense pays nothing out', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    const x9 = await makeDepartment(h.db);
    const x10 = await makeDepartment(h.db);
    const before = await snapshot(fundId);
    for (const postings of [
      [
        ['1011', 'debit', '5000000.00'],
        [`2307.${x9.code}`, 'credit', '5000000.00'],
      ],
      [
        ['8001', 'debit', '5000000.00'],
        [`7101.${x10.code}`, 'credit', '5000000.00'],
      ],
      [
        ['1011', 'debit', '5000000.00'],
        [`2307.${x9.code}`, 'credit', '5000000.00'],
        ['8001', 'debit', '5000000.00'],
        [`7101.${x10.code}`, 'credit', '5000000.00'],
      ],
    ] as P[][]) {
      const res = await prepare(fundId, postings);
      expect(res.status, JSON.stringify(postings)).toBe(422);
      expect(res.body.code).toBe('MANUAL_ENTRY_CREATES_QUOTA');
    }
    const payment = await pay(fundId, x9.id, '5000000.00');
    expect(payment.status).toBe(409);
    expect(payment.body.code).toBe('EXCEEDS_PAYABLE');
    expect(await snapshot(fundId)).toEqual(before);
    // A payable booked against an expense by a manual entry is a correction, not an allocation.
    await post(fundId, [
      [`5001.${x9.code}`, 'debit', '800.00'],
      [`2307.${x9.code}`, 'credit', '800.00'],
    ]);
    const unallocated = await pay(fundId, x9.id, '800.00');
    expect(unallocated.status).toBe(409);
    expect(unallocated.body.code).toBe('EXCEEDS_PAYABLE');
    expect(await fundOf(fundId)).toMatchObject({ appropriated: '1000.00', allocated: '0.00', disbursed: '0.00', cash_balance: '1000.00' });
  });

  it('a manual entry that lowers 1011 (a correction) is allowed and moves no figure', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    const d = await makeDepartment(h.db);
    await post(fundId, [
      [`5001.${d.code}`, 'debit', '10.00'],
      ['1011', 'credit', '10.00'],
    ]);
    expect(await fundOf(fundId)).toMatchObject({ allocated: '0.00', cash_balance: '990.00' });
  });
});

describe('a no-op voucher', () => {
  it('debiting and crediting one account is refused with 422 and prepares nothing', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    const before = await h.db('pending_entries').where({ fund_id: fundId }).count<{ n: string }[]>('* as n');
    const res = await prepare(fundId, [
      ['1011', 'debit', '10.00'],
      ['1011', 'credit', '10.00'],
    ]);
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/既借又贷/);
    expect(await h.db('pending_entries').where({ fund_id: fundId }).count<{ n: string }[]>('* as n')).toEqual(before);
  });
});

describe('approving twice', () => {
  it('a run or a payment approved again answers 409 ALREADY_POSTED', async () => {
    const { fundId, d } = await fundWithUnit();
    const run = await newRun(fundId);
    expect((await approveRun(run.body.id)).status).toBe(200);
    const again = await approveRun(run.body.id);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ALREADY_POSTED');
    const p = await pay(fundId, d.id, '100.00');
    const first = await h.api.post(`/api/v1/disbursements/${p.body.id}/approve`).set(checker.auth).send({});
    expect(first.status, JSON.stringify([p.body, first.body])).toBe(200);
    const twice = await h.api.post(`/api/v1/disbursements/${p.body.id}/approve`).set(checker.auth).send({});
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('ALREADY_POSTED');
  });
});
