import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
let checker: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
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
const prepare = (fundId: string, postings: PostingInput[], date?: string) =>
  h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(entryBody(postings, date));
const approve = (entryId: string, by: TestUser = checker) => h.api.post(`/api/v1/journal-entries/${entryId}/approve`).set(by.auth).send({});
/** Prepared by the accountant, approved by the checker: the approval's answer, or the preparation's refusal. */
const post = async (fundId: string, postings: PostingInput[], date?: string) => {
  const prepared = await prepare(fundId, postings, date);
  return prepared.status === 201 ? approve(prepared.body.id) : prepared;
};
const prepareReversal = (entryId: string, body: object = {}) => h.api.post(`/api/v1/journal-entries/${entryId}/reversal`).set(accountant.auth).send(body);
const allocate = (code: string, amount: string): PostingInput[] => [
  [`5001.${code}`, 'debit', amount],
  [`2307.${code}`, 'credit', amount],
];
const pay = (code: string, amount: string): PostingInput[] => [
  [`2307.${code}`, 'debit', amount],
  ['1011', 'credit', amount],
  [`7101.${code}`, 'debit', amount],
  ['8001', 'credit', amount],
];
const fundOf = async (id: string) => (await h.api.get(`/api/v1/funds/${id}`).set(accountant.auth)).body;

describe('funds', () => {
  it('creates a fund with its chart of accounts in two books', async () => {
    const fundId = await makeFund(h, accountant);
    const accounts = await h.api.get(`/api/v1/funds/${fundId}/accounts`).set(auditor.auth);
    expect(accounts.body.map((a: { code: string; book: string; normal_side: string; balance: string }) => [a.code, a.book, a.normal_side, a.balance])).toEqual([
      ['1011', 'financial', 'debit', '0.00'],
      ['4001', 'financial', 'credit', '0.00'],
      ['6001', 'budget', 'credit', '0.00'],
      ['8001', 'budget', 'debit', '0.00'],
    ]);
  });

  it('refuses a duplicate fund code with 409', async () => {
    const body = { code: unique('F'), name: '基金', fiscal_year: 2011, document_no: 'X' };
    await h.api.post('/api/v1/funds').set(accountant.auth).send(body);
    expect((await h.api.post('/api/v1/funds').set(accountant.auth).send(body)).status).toBe(409);
  });

  it('answers 404 for a fund that does not exist', async () => {
    expect((await h.api.get('/api/v1/funds/999999999').set(auditor.auth)).status).toBe(404);
    expect(
      (await h.api.post('/api/v1/funds/999999999/appropriations').set(accountant.auth).send({ amount: '1.00', document_no: 'x', date: '2011-01-01' })).status,
    ).toBe(404);
  });
});

describe('posting', () => {
  it('records the 2011 appropriation in both books and reports it on the fund', async () => {
    const fundId = await makeFund(h, accountant);
    const prepared = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .send({ amount: '12450000.00', document_no: '新财预〔2011〕12号', date: '2011-06-01' });
    expect(prepared.status).toBe(201);
    expect(prepared.body).toMatchObject({ status: 'pending', seq: null, hash: null, kind: 'appropriation', created_by: accountant.id });
    expect(await fundOf(fundId)).toMatchObject({ appropriated: '0.00', cash_balance: '0.00', entries: 0 });
    const res = await approve(prepared.body.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: prepared.body.id,
      status: 'posted',
      seq: 1,
      kind: 'appropriation',
      date: '2011-06-01',
      document_no: '新财预〔2011〕12号',
      created_by: accountant.id,
      approved_by: checker.id,
    });
    expect(res.body.postings.map((p: { account_code: string; side: string; amount: string }) => `${p.side} ${p.account_code} ${p.amount}`)).toEqual([
      'debit 1011 12450000.00',
      'credit 4001 12450000.00',
      'debit 8001 12450000.00',
      'credit 6001 12450000.00',
    ]);
    expect(await fundOf(fundId)).toMatchObject({
      appropriated: '12450000.00',
      allocated: '0.00',
      disbursed: '0.00',
      available_to_allocate: '12450000.00',
      cash_balance: '12450000.00',
    });
  });

  it('allocates and pays through manual entries, opening department sub-accounts on first use', async () => {
    const d = await makeDepartment(h.db, { name: '统计局' });
    const fundId = await makeFund(h, accountant, '1000.00');
    expect((await post(fundId, allocate(d.code, '600.00'))).status).toBe(200);
    const paid = await post(fundId, pay(d.code, '250.50'));
    expect(paid.status).toBe(200);
    expect(paid.body.postings.map((p: { balance_after: string }) => p.balance_after)).toEqual(['349.50', '749.50', '250.50', '749.50']);
    // A manual entry moves balances (with four eyes) but never the fund's figures, which are kept by kind.
    expect(await fundOf(fundId)).toMatchObject({
      appropriated: '1000.00',
      allocated: '0.00',
      disbursed: '0.00',
      available_to_allocate: '1000.00',
      cash_balance: '749.50',
    });
    const accounts = await h.api.get(`/api/v1/funds/${fundId}/accounts`).set(auditor.auth);
    expect(accounts.body.find((a: { code: string }) => a.code === `2307.${d.code}`)).toMatchObject({
      name: '其他应付款—统计局',
      balance: '349.50',
      department_id: d.id,
    });
  });

  it('refuses an unbalanced entry with 422 and posts nothing', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const res = await post(fundId, [
      ['1011', 'debit', '10.00'],
      ['4001', 'credit', '9.99'],
    ]);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('UNBALANCED_ENTRY');
    expect((await fundOf(fundId)).entries).toBe(1);
  });

  it('refuses an entry balanced across books but not within each', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const res = await post(fundId, [
      ['1011', 'debit', '10.00'],
      ['6001', 'credit', '10.00'],
    ]);
    expect(res.body.code).toBe('UNBALANCED_ENTRY');
  });

  it('refuses an unknown account, naming it', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    for (const code of ['9999', '2307.NOSUCHDEPT']) {
      const res = await post(fundId, [
        [code, 'debit', '1.00'],
        ['4001', 'credit', '1.00'],
      ]);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('UNKNOWN_ACCOUNT');
      expect(res.body.detail).toContain(code.includes('.') ? 'NOSUCHDEPT' : code);
    }
  });

  it('refuses to take cash below zero with 409 INSUFFICIENT_BALANCE at approval, and the entry stays pending', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '100.00');
    await post(fundId, allocate(d.code, '100.00'));
    const tooMuch = await prepare(fundId, pay(d.code, '100.01'));
    expect(tooMuch.status).toBe(201);
    expect((await approve(tooMuch.body.id)).body.code).toBe('INSUFFICIENT_BALANCE');
    expect((await h.api.get(`/api/v1/journal-entries/${tooMuch.body.id}`).set(auditor.auth)).body).toMatchObject({ status: 'pending', seq: null });
    expect((await post(fundId, pay(d.code, '100.00'))).status).toBe(200);
    expect((await fundOf(fundId)).cash_balance).toBe('0.00');
  });

  it.each([
    ['a number', 10],
    ['three decimals', '1.005'],
    ['zero', '0.00'],
    ['a negative amount', '-1.00'],
    ['an exponent', '1e2'],
    ['full-width digits', '１０'],
  ])('refuses %s as an amount with 422 naming the field', async (_name, amount) => {
    const fundId = await makeFund(h, accountant, '100.00');
    const res = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries`)
      .set(accountant.auth)
      .send({
        date: '2011-07-01',
        memo: 'x',
        postings: [
          { account_code: '1011', side: 'debit', amount },
          { account_code: '4001', side: 'credit', amount: '10.00' },
        ],
      });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body.errors ?? res.body.detail)).toContain('postings');
  });

  it('prepares a batch as one and posts it all or nothing when another accountant approves', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '100.00');
    const batch = (entries: object[]) => h.api.post(`/api/v1/funds/${fundId}/journal-entries/batch`).set(accountant.auth).send({ entries });
    const approveBatch = (id: string, by: TestUser = checker) => h.api.post(`/api/v1/journal-entry-batches/${id}/approve`).set(by.auth).send({});
    const good = await batch([entryBody(allocate(d.code, '10.00')), entryBody(pay(d.code, '10.00'))]);
    expect(good.status).toBe(201);
    expect(good.body).toMatchObject({ status: 'pending', count: 2 });
    expect((await approveBatch(good.body.id, accountant)).status).toBe(403);
    const ok = await approveBatch(good.body.id);
    expect(ok.status).toBe(200);
    expect(ok.body.items.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    expect(ok.body.items.map((e: { id: string }) => e.id)).toEqual(good.body.entry_ids);
    expect((await approveBatch(good.body.id)).body.code).toBe('ALREADY_POSTED');
    const bad = await batch([entryBody(allocate(d.code, '10.00')), entryBody(pay(d.code, '80.00'))]);
    const refused = await approveBatch(bad.body.id);
    expect(refused.body).toMatchObject({ status: 409, code: 'INSUFFICIENT_BALANCE' });
    expect(refused.body.detail).toContain('第 2 笔凭证');
    expect(await fundOf(fundId)).toMatchObject({ entries: 3, cash_balance: '90.00' });
    const rejected = await h.api.post(`/api/v1/journal-entry-batches/${bad.body.id}/reject`).set(checker.auth).send({ reason: '金额有误' });
    expect(rejected.body).toMatchObject({ status: 'rejected', reason: '金额有误' });
    expect((await approveBatch(bad.body.id)).body.code).toBe('ALREADY_DECIDED');
  });

  it('refuses a batch of more than 1,000 entries', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const entries = Array.from({ length: 1001 }, () =>
      entryBody([
        ['1011', 'debit', '0.01'],
        ['4001', 'credit', '0.01'],
      ]),
    );
    const res = await h.api.post(`/api/v1/funds/${fundId}/journal-entries/batch`).set(accountant.auth).send({ entries });
    expect(res.status).toBe(422);
  });
});

describe('reversal', () => {
  it('prepares the mirror entry linked to the original, posts it on approval, and refuses a second reversal with 409', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '500.00');
    const original = await post(fundId, allocate(d.code, '120.00'));
    const prepared = await prepareReversal(original.body.id, { date: '2011-08-01' });
    expect(prepared.status).toBe(201);
    expect(prepared.body).toMatchObject({ status: 'pending', kind: 'reversal', reverses_entry_id: original.body.id, date: '2011-08-01' });
    expect((await prepareReversal(original.body.id)).body.code).toBe('ALREADY_REVERSED');
    const rev = await approve(prepared.body.id);
    expect(rev.status).toBe(200);
    expect(rev.body).toMatchObject({ status: 'posted', kind: 'reversal', reverses_entry_id: original.body.id, date: '2011-08-01' });
    expect(rev.body.postings.map((p: { side: string; account_code: string }) => `${p.side} ${p.account_code}`)).toEqual([
      `credit 5001.${d.code}`,
      `debit 2307.${d.code}`,
    ]);
    const again = await prepareReversal(original.body.id);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ALREADY_REVERSED');
    const reversingTheReversal = await prepareReversal(rev.body.id);
    expect(reversingTheReversal.body.code).toBe('CANNOT_REVERSE_REVERSAL');
    const journal = await h.api.get(`/api/v1/funds/${fundId}/journal?kind=allocation`).set(auditor.auth);
    expect(journal.body.items).toEqual([]);
    const manual = await h.api.get(`/api/v1/funds/${fundId}/journal?kind=manual`).set(auditor.auth);
    expect(manual.body.items[0].reversed_by_entry_id).toBe(rev.body.id);
  });

  it('refuses, at approval, a reversal that would overdraw cash; a rejected one frees the entry for another', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant);
    const appropriation = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .send({ amount: '100.00', document_no: 'A', date: '2011-06-01' });
    await approve(appropriation.body.id);
    await post(fundId, allocate(d.code, '100.00'));
    await post(fundId, pay(d.code, '60.00'));
    const prepared = await prepareReversal(appropriation.body.id);
    const res = await approve(prepared.body.id);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('INSUFFICIENT_BALANCE');
    expect((await fundOf(fundId)).appropriated).toBe('100.00');
    const rejected = await h.api.post(`/api/v1/journal-entries/${prepared.body.id}/reject`).set(accountant.auth).send({ reason: '已拨付，不能冲销' });
    expect(rejected.body).toMatchObject({ status: 'rejected', reason: '已拨付，不能冲销', decided_by: accountant.id });
    expect((await approve(prepared.body.id)).body.code).toBe('ALREADY_DECIDED');
    expect((await prepareReversal(appropriation.body.id)).status).toBe(201);
  });

  it('refuses a reversal dated before the original', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '100.00');
    const e = await post(fundId, allocate(d.code, '1.00'), '2011-07-01');
    const res = await prepareReversal(e.body.id, { date: '2011-06-30' });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].field).toBe('date');
  });
});

describe('reading the books', () => {
  it('lists the journal newest first with cursor pagination and filters', async () => {
    const d1 = await makeDepartment(h.db);
    const d2 = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, allocate(d1.code, '10.00'), '2011-07-01');
    await post(fundId, allocate(d2.code, '20.00'), '2011-07-02');
    await post(fundId, allocate(d1.code, '30.00'), '2011-07-03');
    const page1 = await h.api.get(`/api/v1/funds/${fundId}/journal?limit=2`).set(auditor.auth);
    expect(page1.body.items.map((e: { seq: number }) => e.seq)).toEqual([4, 3]);
    const page2 = await h.api.get(`/api/v1/funds/${fundId}/journal?limit=2&cursor=${page1.body.next_cursor}`).set(auditor.auth);
    expect(page2.body.items.map((e: { seq: number }) => e.seq)).toEqual([2, 1]);
    expect(page2.body.next_cursor).toBeNull();
    const byAccount = await h.api.get(`/api/v1/funds/${fundId}/journal?account=2307.${d1.code}`).set(auditor.auth);
    expect(byAccount.body.items.map((e: { seq: number }) => e.seq)).toEqual([4, 2]);
    const byDate = await h.api.get(`/api/v1/funds/${fundId}/journal?from=2011-07-02&to=2011-07-02`).set(auditor.auth);
    expect(byDate.body.items.map((e: { seq: number }) => e.seq)).toEqual([3]);
  });

  it("shows an account's postings with running balances", async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, allocate(d.code, '300.00'));
    await post(fundId, pay(d.code, '120.00'));
    const res = await h.api.get(`/api/v1/funds/${fundId}/accounts/2307.${d.code}/ledger`).set(auditor.auth);
    expect(res.body.account.balance).toBe('180.00');
    expect(res.body.items.map((p: { side: string; amount: string; balance_after: string }) => `${p.side} ${p.amount} → ${p.balance_after}`)).toEqual([
      'debit 120.00 → 180.00',
      'credit 300.00 → 300.00',
    ]);
  });

  it('gives a trial balance per book, now and as of an earlier date', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, allocate(d.code, '400.00'), '2011-07-01');
    await post(fundId, pay(d.code, '150.00'), '2011-08-01');
    const now = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).set(auditor.auth);
    expect(now.body.books).toEqual({
      financial: { debit: '1250.00', credit: '1250.00', balanced: true },
      budget: { debit: '1000.00', credit: '1000.00', balanced: true },
    });
    const july = await h.api.get(`/api/v1/funds/${fundId}/trial-balance?as_of=2011-07-31`).set(auditor.auth);
    expect(july.body.as_of).toBe('2011-07-31');
    expect(july.body.books.financial).toEqual({ debit: '1400.00', credit: '1400.00', balanced: true });
    expect(july.body.accounts.find((a: { code: string }) => a.code === '1011')).toMatchObject({ debit: '1000.00', credit: '0.00' });
    const before = await h.api.get(`/api/v1/funds/${fundId}/trial-balance?as_of=2011-05-31`).set(auditor.auth);
    expect(before.body.books.financial).toEqual({ debit: '0.00', credit: '0.00', balanced: true });
    expect((await h.api.get(`/api/v1/funds/${fundId}/trial-balance?as_of=2011-13-01`).set(auditor.auth)).status).toBe(422);
  });

  it('verifies the hash chain of an untouched fund', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, allocate(d.code, '1.00'));
    const res = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth);
    expect(res.body).toEqual({
      ok: true,
      entries: 2,
      head_hash: (await fundOf(fundId)).head_hash,
      first_bad_seq: null,
      problems: [],
      mode: 'full',
      checkpoint: null,
      entries_checked: 2,
    });
  });

  it('records the preparation and the approval of every posting in the audit log', async () => {
    const fundId = await makeFund(h, accountant, '10.00');
    const prepared = await h
      .db('audit_log')
      .where({ actor_id: accountant.id, action: 'ledger.appropriation_prepare' })
      .whereRaw("after->>'fund_id' = ?", [fundId]);
    expect(prepared).toHaveLength(1);
    const approved = await h.db('audit_log').where({ action: 'ledger.appropriation_approve', object_id: prepared[0].object_id });
    expect(approved).toHaveLength(1);
    expect(String(approved[0].actor_id)).not.toBe(accountant.id);
  });
});
