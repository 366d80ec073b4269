import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/* 制单 → 审核 → 记账, and the fund figures that no manual entry can move (DESIGN.md invariants 8 and 10). */
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

type PostingInput = [string, 'debit' | 'credit', string];
const entryBody = (postings: PostingInput[], date = '2011-07-01') => ({
  date,
  memo: '手工调整',
  postings: postings.map(([account_code, side, amount]) => ({ account_code, side, amount })),
});
const prepare = (fundId: string, postings: PostingInput[], by: TestUser = maker) =>
  h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(by.auth).send(entryBody(postings));
const approve = (id: string, by: TestUser = checker) => h.api.post(`/api/v1/journal-entries/${id}/approve`).set(by.auth).send({});
const fundOf = async (id: string) => (await h.api.get(`/api/v1/funds/${id}`).set(auditor.auth)).body;
const figures = async (id: string) => {
  const f = await fundOf(id);
  return { appropriated: f.appropriated, allocated: f.allocated, disbursed: f.disbursed, available_to_allocate: f.available_to_allocate };
};

describe('four eyes', () => {
  it('keeps a prepared entry out of the books, lists it as pending, and refuses approval by its own preparer with 403', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '500.00');
    const before = await fundOf(fundId);
    const prepared = await prepare(fundId, [
      [`2307.${d.code}`, 'credit', '10.00'],
      [`5001.${d.code}`, 'debit', '10.00'],
    ]);
    expect(prepared.status).toBe(201);
    expect(prepared.body).toMatchObject({ status: 'pending', seq: null, hash: null, created_by: maker.id, created_by_name: maker.username, approved_by: null });
    expect(await fundOf(fundId)).toEqual(before);
    expect(await h.db('accounts').where({ fund_id: fundId }).whereLike('code', `%${d.code}`)).toEqual([]);

    const pending = await h.api.get(`/api/v1/funds/${fundId}/journal-entries?status=pending`).set(auditor.auth);
    expect(pending.body.items.map((e: { id: string }) => e.id)).toEqual([prepared.body.id]);

    const own = await approve(prepared.body.id, maker);
    expect(own.status).toBe(403);
    expect(own.body.code).toBe('SAME_ACCOUNTANT');
    expect((await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/approve`).set(auditor.auth).send({})).status).toBe(403);
    expect(await fundOf(fundId)).toEqual(before);

    const posted = await approve(prepared.body.id);
    expect(posted.status).toBe(200);
    expect(posted.body).toMatchObject({
      id: prepared.body.id,
      status: 'posted',
      seq: 2,
      created_by: maker.id,
      created_by_name: maker.username,
      approved_by: checker.id,
      approved_by_name: checker.username,
    });
    expect(posted.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await approve(prepared.body.id)).body.code).toBe('ALREADY_POSTED');
    expect((await h.api.get(`/api/v1/funds/${fundId}/journal-entries?status=pending`).set(auditor.auth)).body.items).toEqual([]);
    expect((await h.api.get(`/api/v1/funds/${fundId}/journal-entries?status=posted`).set(auditor.auth)).body.items).toHaveLength(2);
  });

  it('refuses a rejection without a reason, and anything but approval of what is pending', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '500.00');
    const prepared = await prepare(fundId, [
      [`5001.${d.code}`, 'debit', '10.00'],
      [`2307.${d.code}`, 'credit', '10.00'],
    ]);
    expect((await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/reject`).set(checker.auth).send({})).status).toBe(422);
    expect((await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/reject`).set(checker.auth).send({ reason: '  ' })).status).toBe(422);
    expect((await approve('999999999')).status).toBe(404);
    const allocationEntry = await h.db('journal_entries').where({ fund_id: fundId }).first('id');
    expect((await approve(String(allocationEntry.id))).body.code).toBe('ALREADY_POSTED');
  });

  it('gives allocation entries the run’s two people and payment entries the payment’s', async () => {
    const d = await makeDepartment(h.db, { status: 'completed' });
    const fundId = await makeFund(h, maker, '100000.00');
    await h.api
      .put(`/api/v1/funds/${fundId}/policy`)
      .set(maker.auth)
      .send({ rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, require_completed: false });
    const { receiptBody } = await import('../support/receipts.ts');
    const receipt = await h.api.post(`/api/v1/departments/${d.id}/receipts`).set(maker.auth).send(receiptBody(fundId));
    await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({});
    const run = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
    expect((await h.api.post(`/api/v1/allocation-runs/${run.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
    const pay = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(checker.auth)
      .send({ department_id: d.id, amount: '100.00', voucher_no: 'V1', date: '2011-10-01' });
    expect((await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(maker.auth).send({})).status).toBe(200);
    const journal = await h.api.get(`/api/v1/funds/${fundId}/journal`).set(auditor.auth);
    const people = Object.fromEntries(
      journal.body.items.map((e: { kind: string; created_by: string; approved_by: string }) => [e.kind, [e.created_by, e.approved_by]]),
    );
    expect(people).toEqual({ appropriation: [maker.id, expect.any(String)], allocation: [maker.id, checker.id], disbursement: [checker.id, maker.id] });
    expect(await figures(fundId)).toEqual({ appropriated: '100000.00', allocated: '8204.51', disbursed: '100.00', available_to_allocate: '91795.49' });
  });
});

describe('fund figures kept by kind', () => {
  it('refuses a manual entry touching 4001 or 6001 with 422 and prepares nothing', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '1000.00');
    for (const postings of [
      [
        [`5001.${d.code}`, 'debit', '5000.00'],
        ['4001', 'credit', '5000.00'],
      ],
      [
        ['1011', 'debit', '5000.00'],
        ['4001', 'credit', '5000.00'],
        ['8001', 'debit', '5000.00'],
        ['6001', 'credit', '5000.00'],
      ],
      [
        ['4001', 'debit', '1.00'],
        ['1011', 'credit', '1.00'],
      ],
      [
        ['8001', 'debit', '1.00'],
        ['6001', 'credit', '1.00'],
      ],
    ] as PostingInput[][]) {
      const res = await prepare(fundId, postings);
      expect(res.status, JSON.stringify(postings)).toBe(422);
      expect(res.body.code).toBe('RESERVED_ACCOUNT');
    }
    expect(await h.db('pending_entries').where({ fund_id: fundId, kind: 'manual' })).toEqual([]);
    expect(await figures(fundId)).toEqual({ appropriated: '1000.00', allocated: '0.00', disbursed: '0.00', available_to_allocate: '1000.00' });
  });

  it('leaves appropriated, allocated and disbursed unchanged by any approved manual entry or its reversal', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '1000.00');
    const before = await figures(fundId);
    const manual: PostingInput[][] = [
      [
        [`5001.${d.code}`, 'debit', '600.00'],
        [`2307.${d.code}`, 'credit', '600.00'],
      ],
      [
        [`2307.${d.code}`, 'debit', '250.00'],
        ['1011', 'credit', '250.00'],
        [`7101.${d.code}`, 'debit', '250.00'],
        ['8001', 'credit', '250.00'],
      ],
      [
        [`2307.${d.code}`, 'debit', '50.00'],
        [`5001.${d.code}`, 'credit', '50.00'],
      ],
    ];
    const ids = [];
    for (const postings of manual) {
      const posted = await approve((await prepare(fundId, postings)).body.id);
      expect(posted.status).toBe(200);
      ids.push(posted.body.id as string);
    }
    expect(await figures(fundId)).toEqual(before);
    const reversal = await h.api.post(`/api/v1/journal-entries/${ids[1]}/reversal`).set(maker.auth).send({});
    expect((await approve(reversal.body.id)).status).toBe(200);
    expect(await figures(fundId)).toEqual(before);
    expect((await fundOf(fundId)).cash_balance).toBe('1000.00');
  });

  it('moves a figure back when its entry is reversed: an appropriation reversed lowers appropriated', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    const second = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(maker.auth).send({ amount: '300.00', document_no: 'A2', date: '2011-06-02' });
    await approve(second.body.id);
    expect((await figures(fundId)).appropriated).toBe('1300.00');
    const reversal = await h.api.post(`/api/v1/journal-entries/${second.body.id}/reversal`).set(maker.auth).send({});
    expect((await approve(reversal.body.id)).status).toBe(200);
    expect(await figures(fundId)).toEqual({ appropriated: '1000.00', allocated: '0.00', disbursed: '0.00', available_to_allocate: '1000.00' });
  });
});
