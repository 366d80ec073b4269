import { expect } from 'vitest';
import { makeDepartment, makeFund, type Harness, type TestUser } from './harness.ts';
import { receiptBody } from './receipts.ts';

export const standardPolicy = {
  rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' },
  licence_caps: { office: '600.00', antivirus: '100.00' },
  require_completed: true,
};

type Line = { product: string; category: string; licences: number; amount: string };

/** Fixtures for allocation and payment tests: a fund with a policy, accepted units with verified receipts, runs. */
export function allocationFixtures(h: Harness, maker: TestUser, checker: TestUser) {
  async function fundWithPolicy(appropriation = '1000000.00', policy: object = standardPolicy) {
    const fundId = await makeFund(h, maker, appropriation);
    expect((await h.api.put(`/api/v1/funds/${fundId}/policy`).set(maker.auth).send(policy)).status).toBe(201);
    return fundId;
  }
  async function verifiedReceipt(fundId: string, departmentId: string, lines: Line[], overrides: Record<string, unknown> = {}) {
    const total = lines.reduce((s, l) => s + Math.round(Number(l.amount) * 100), 0);
    const receipt = await h.api
      .post(`/api/v1/departments/${departmentId}/receipts`)
      .set(maker.auth)
      .send(receiptBody(fundId, { lines, total: (total / 100).toFixed(2), ...overrides }));
    expect(receipt.status).toBe(201);
    expect((await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({})).status).toBe(200);
    return String(receipt.body.id);
  }
  /** A completed, accepted unit with one verified receipt. */
  async function acceptedUnitWithReceipt(fundId: string, lines: Line[] = [{ product: 'Windows 7', category: 'os', licences: 1, amount: '1000.00' }]) {
    const d = await makeDepartment(h.db, { status: 'completed' });
    expect(
      (
        await h.api
          .put(`/api/v1/departments/${d.id}/status`)
          .set(maker.auth)
          .send({ status: 'completed', effective_date: '2011-08-01', accepted_on: '2011-08-20' })
      ).status,
    ).toBe(200);
    return { ...d, receiptId: await verifiedReceipt(fundId, d.id, lines) };
  }
  const newRun = (fundId: string, user = maker) => h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(user.auth).send({ as_of: '2011-09-30' });
  const approve = (runId: string, user = checker) => h.api.post(`/api/v1/allocation-runs/${runId}/approve`).set(user.auth).send({});
  /** A unit allocated `2 × amount × 0.5 = amount`, approved: its payable is `amount`. */
  async function fundedUnit(amount: string) {
    const fundId = await fundWithPolicy();
    const u = await acceptedUnitWithReceipt(fundId, [{ product: 'Windows', category: 'os', licences: 1, amount: (Number(amount) * 2).toFixed(2) }]);
    const run = await newRun(fundId);
    expect((await approve(run.body.id)).status).toBe(200);
    return { fundId, u, runId: String(run.body.id) };
  }
  return { fundWithPolicy, verifiedReceipt, acceptedUnitWithReceipt, newRun, approve, fundedUnit };
}
