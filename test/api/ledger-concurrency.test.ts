import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

const entry = (postings: Array<[string, 'debit' | 'credit', string]>) => ({
  date: '2011-07-01',
  memo: '并发测试',
  postings: postings.map(([account_code, side, amount]) => ({ account_code, side, amount })),
});
const countBy = (statuses: number[]) => statuses.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});

describe('under concurrency', () => {
  it('lets exactly the withdrawals that fit succeed out of 60 sent at once, with no 5xx', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(entry([[`5001.${d.code}`, 'debit', '1000.00'], [`2307.${d.code}`, 'credit', '1000.00']]));
    const payment = entry([[`2307.${d.code}`, 'debit', '75.00'], ['1011', 'credit', '75.00'], [`7101.${d.code}`, 'debit', '75.00'], ['8001', 'credit', '75.00']]);
    const results = await Promise.all(Array.from({ length: 60 }, () => h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(payment)));
    // 1000.00 / 75.00 = 13 payments fit, leaving 25.00.
    expect(countBy(results.map((r) => r.status))).toEqual({ 201: 13, 409: 47 });
    expect(new Set(results.filter((r) => r.status === 409).map((r) => r.body.code))).toEqual(new Set(['INSUFFICIENT_BALANCE']));
    const fund = (await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body;
    expect(fund).toMatchObject({ cash_balance: '25.00', disbursed: '975.00', entries: 15 });
  });

  it('reverses an entry once when 20 reversals arrive at once', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    const target = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(entry([['1011', 'debit', '5.00'], ['4001', 'credit', '5.00']]));
    const results = await Promise.all(Array.from({ length: 20 }, () => h.api.post(`/api/v1/journal-entries/${target.body.id}/reversal`).set(accountant.auth).send({})));
    expect(countBy(results.map((r) => r.status))).toEqual({ 201: 1, 409: 19 });
    expect(await h.db('journal_entries').where({ reverses_entry_id: target.body.id })).toHaveLength(1);
  });

  it('posts once when one Idempotency-Key is sent 50 times at once; the others replay or conflict', async () => {
    const fundId = await makeFund(h, accountant);
    const body = { amount: '300.00', document_no: 'IDEM-1', date: '2011-06-01' };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', `k-${fundId}`).send(body)),
    );
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const created = results.filter((r) => r.status === 201);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect(created.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(await h.db('journal_entries').where({ fund_id: fundId })).toHaveLength(1);
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body.appropriated).toBe('300.00');
  });
});

describe('idempotency', () => {
  it('replays the first response for the same key and body, marked Idempotent-Replayed', async () => {
    const fundId = await makeFund(h, accountant);
    const body = { amount: '10.00', document_no: 'R-1', date: '2011-06-01' };
    const first = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'replay-me').send(body);
    const second = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'replay-me').send({ date: '2011-06-01', document_no: 'R-1', amount: '10.00' });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body.appropriated).toBe('10.00');
  });

  it('refuses the same key with another body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const fundId = await makeFund(h, accountant);
    await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'reuse').send({ amount: '10.00', document_no: 'R', date: '2011-06-01' });
    const res = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'reuse').send({ amount: '11.00', document_no: 'R', date: '2011-06-01' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('scopes keys to the user: another accountant may use the same key', async () => {
    const other = await makeUser(h.db, 'accountant');
    const fundId = await makeFund(h, accountant);
    const body = { amount: '10.00', document_no: 'S', date: '2011-06-01' };
    await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'shared').send(body);
    const res = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(other.auth).set('Idempotency-Key', 'shared').send(body);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body.appropriated).toBe('20.00');
  });

  it('lets a key be retried after a refused request, since nothing happened', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '10.00');
    const body = entry([[`5001.${d.code}`, 'debit', '20.00'], [`2307.${d.code}`, 'credit', '20.00']]);
    const refused = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).set('Idempotency-Key', 'retry').send(body);
    expect(refused.status).toBe(409);
    await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).send({ amount: '10.00', document_no: 'more', date: '2011-06-02' });
    const retried = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).set('Idempotency-Key', 'retry').send(body);
    expect(retried.status).toBe(201);
  });

  it('refuses a key longer than 255 characters', async () => {
    const fundId = await makeFund(h, accountant);
    const res = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'k'.repeat(256)).send({ amount: '1.00', document_no: 'x', date: '2011-06-01' });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].field).toBe('Idempotency-Key');
  });
});
