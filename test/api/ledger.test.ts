import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
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
const post = (fundId: string, postings: PostingInput[], date?: string) =>
  h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(entryBody(postings, date));
const allocate = (code: string, amount: string): PostingInput[] => [[`5001.${code}`, 'debit', amount], [`2307.${code}`, 'credit', amount]];
const pay = (code: string, amount: string): PostingInput[] => [[`2307.${code}`, 'debit', amount], ['1011', 'credit', amount], [`7101.${code}`, 'debit', amount], ['8001', 'credit', amount]];
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
    expect((await h.api.post('/api/v1/funds/999999999/appropriations').set(accountant.auth).send({ amount: '1.00', document_no: 'x', date: '2011-01-01' })).status).toBe(404);
  });
});

describe('posting', () => {
  it('records the 2011 appropriation in both books and reports it on the fund', async () => {
    const fundId = await makeFund(h, accountant);
    const res = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).send({ amount: '12450000.00', document_no: '新财预〔2011〕12号', date: '2011-06-01' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ seq: 1, kind: 'appropriation', date: '2011-06-01', document_no: '新财预〔2011〕12号' });
    expect(res.body.postings.map((p: { account_code: string; side: string; amount: string }) => `${p.side} ${p.account_code} ${p.amount}`)).toEqual([
      'debit 1011 12450000.00',
      'credit 4001 12450000.00',
      'debit 8001 12450000.00',
      'credit 6001 12450000.00',
    ]);
    expect(await fundOf(fundId)).toMatchObject({ appropriated: '12450000.00', allocated: '0.00', disbursed: '0.00', available_to_allocate: '12450000.00', cash_balance: '12450000.00' });
  });

  it('allocates and pays through manual entries, opening department sub-accounts on first use', async () => {
    const d = await makeDepartment(h.db, { name: '统计局' });
    const fundId = await makeFund(h, accountant, '1000.00');
    expect((await post(fundId, allocate(d.code, '600.00'))).status).toBe(201);
    const paid = await post(fundId, pay(d.code, '250.50'));
    expect(paid.status).toBe(201);
    expect(paid.body.postings.map((p: { balance_after: string }) => p.balance_after)).toEqual(['349.50', '749.50', '250.50', '749.50']);
    expect(await fundOf(fundId)).toMatchObject({ appropriated: '1000.00', allocated: '600.00', disbursed: '250.50', available_to_allocate: '400.00', cash_balance: '749.50' });
    const accounts = await h.api.get(`/api/v1/funds/${fundId}/accounts`).set(auditor.auth);
    expect(accounts.body.find((a: { code: string }) => a.code === `2307.${d.code}`)).toMatchObject({ name: '其他应付款—统计局', balance: '349.50', department_id: d.id });
  });

  it('refuses an unbalanced entry with 422 and posts nothing', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const res = await post(fundId, [['1011', 'debit', '10.00'], ['4001', 'credit', '9.99']]);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('UNBALANCED_ENTRY');
    expect((await fundOf(fundId)).entries).toBe(1);
  });

  it('refuses an entry balanced across books but not within each', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const res = await post(fundId, [['1011', 'debit', '10.00'], ['6001', 'credit', '10.00']]);
    expect(res.body.code).toBe('UNBALANCED_ENTRY');
  });

  it('refuses an unknown account, naming it', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    for (const code of ['9999', '2307.NOSUCHDEPT']) {
      const res = await post(fundId, [[code, 'debit', '1.00'], ['4001', 'credit', '1.00']]);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe('UNKNOWN_ACCOUNT');
      expect(res.body.detail).toContain(code.includes('.') ? 'NOSUCHDEPT' : code);
    }
  });

  it('refuses to take cash below zero with 409 INSUFFICIENT_BALANCE', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '100.00');
    await post(fundId, allocate(d.code, '100.00'));
    expect((await post(fundId, pay(d.code, '100.01'))).body.code).toBe('INSUFFICIENT_BALANCE');
    expect((await post(fundId, pay(d.code, '100.00'))).status).toBe(201);
    expect((await fundOf(fundId)).cash_balance).toBe('0.00');
  });

  it('refuses to allocate beyond the appropriation with 409 OVER_APPROPRIATION', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '100.00');
    const res = await post(fundId, allocate(d.code, '100.01'));
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('OVER_APPROPRIATION');
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
    const res = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send({ date: '2011-07-01', memo: 'x', postings: [{ account_code: '1011', side: 'debit', amount }, { account_code: '4001', side: 'credit', amount: '10.00' }] });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body.errors ?? res.body.detail)).toContain('postings');
  });

  it('posts a batch all or nothing', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '100.00');
    const good = { entries: [entryBody(allocate(d.code, '10.00')), entryBody(allocate(d.code, '20.00'))] };
    const ok = await h.api.post(`/api/v1/funds/${fundId}/journal-entries/batch`).set(accountant.auth).send(good);
    expect(ok.status).toBe(201);
    expect(ok.body.items.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    const bad = { entries: [entryBody(allocate(d.code, '10.00')), entryBody(allocate(d.code, '80.00'))] };
    const refused = await h.api.post(`/api/v1/funds/${fundId}/journal-entries/batch`).set(accountant.auth).send(bad);
    expect(refused.body).toMatchObject({ status: 409, code: 'OVER_APPROPRIATION' });
    expect(refused.body.detail).toContain('第 2 笔凭证');
    expect(await fundOf(fundId)).toMatchObject({ entries: 3, allocated: '30.00' });
  });

  it('refuses a batch of more than 1,000 entries', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const entries = Array.from({ length: 1001 }, () => entryBody([['1011', 'debit', '0.01'], ['4001', 'credit', '0.01']]));
    const res = await h.api.post(`/api/v1/funds/${fundId}/journal-entries/batch`).set(accountant.auth).send({ entries });
    expect(res.status).toBe(422);
  });
});

describe('reversal', () => {
  it('posts the mirror entry linked to the original, and refuses a second reversal with 409', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '500.00');
    const original = await post(fundId, allocate(d.code, '120.00'));
    const rev = await h.api.post(`/api/v1/journal-entries/${original.body.id}/reversal`).set(accountant.auth).send({ date: '2011-08-01' });
    expect(rev.status).toBe(201);
    expect(rev.body).toMatchObject({ kind: 'reversal', reverses_entry_id: original.body.id, date: '2011-08-01' });
    expect(rev.body.postings.map((p: { side: string; account_code: string }) => `${p.side} ${p.account_code}`)).toEqual([`credit 5001.${d.code}`, `debit 2307.${d.code}`]);
    expect((await fundOf(fundId)).allocated).toBe('0.00');
    const again = await h.api.post(`/api/v1/journal-entries/${original.body.id}/reversal`).set(accountant.auth).send({});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ALREADY_REVERSED');
    const reversingTheReversal = await h.api.post(`/api/v1/journal-entries/${rev.body.id}/reversal`).set(accountant.auth).send({});
    expect(reversingTheReversal.body.code).toBe('CANNOT_REVERSE_REVERSAL');
    const journal = await h.api.get(`/api/v1/funds/${fundId}/journal?kind=allocation`).set(auditor.auth);
    expect(journal.body.items).toEqual([]);
    const manual = await h.api.get(`/api/v1/funds/${fundId}/journal?kind=manual`).set(auditor.auth);
    expect(manual.body.items[0].reversed_by_entry_id).toBe(rev.body.id);
  });

  it('refuses a reversal that would overdraw cash', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant);
    const appropriation = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).send({ amount: '100.00', document_no: 'A', date: '2011-06-01' });
    await post(fundId, allocate(d.code, '100.00'));
    await post(fundId, pay(d.code, '60.00'));
    const res = await h.api.post(`/api/v1/journal-entries/${appropriation.body.id}/reversal`).set(accountant.auth).send({});
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('INSUFFICIENT_BALANCE');
  });

  it('refuses a reversal dated before the original', async () => {
    const fundId = await makeFund(h, accountant, '100.00');
    const e = await post(fundId, [['1011', 'debit', '1.00'], ['4001', 'credit', '1.00']], '2011-07-01');
    const res = await h.api.post(`/api/v1/journal-entries/${e.body.id}/reversal`).set(accountant.auth).send({ date: '2011-06-30' });
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
    expect(res.body.items.map((p: { side: string; amount: string; balance_after: string }) => `${p.side} ${p.amount} → ${p.balance_after}`)).toEqual(['debit 120.00 → 180.00', 'credit 300.00 → 300.00']);
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
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, [['1011', 'debit', '1.00'], ['4001', 'credit', '1.00']]);
    const res = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth);
    expect(res.body).toEqual({ ok: true, entries: 2, head_hash: (await fundOf(fundId)).head_hash, first_bad_seq: null, problems: [] });
  });

  it('records every posting in the audit log', async () => {
    const fundId = await makeFund(h, accountant, '10.00');
    const events = await h.db('audit_log').where({ actor_id: accountant.id, action: 'ledger.appropriation' }).whereRaw("after->>'fund_id' = ?", [fundId]);
    expect(events).toHaveLength(1);
  });
});
