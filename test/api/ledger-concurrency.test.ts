import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { approveEntry, makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
let checker: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
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

const prepare = (fundId: string, body: object) => h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(body);
const approve = (id: string, by: TestUser = checker) => h.api.post(`/api/v1/journal-entries/${id}/approve`).set(by.auth).send({});
const allocation = (code: string, amount: string) =>
  entry([
    [`5001.${code}`, 'debit', amount],
    [`2307.${code}`, 'credit', amount],
  ]);

describe('under concurrency', () => {
  it('posts exactly the withdrawals that fit when 60 prepared ones are approved at once, with no 5xx; the rest stay pending', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await approveEntry(h, (await prepare(fundId, allocation(d.code, '1000.00'))).body.id, checker);
    const payment = entry([
      [`2307.${d.code}`, 'debit', '75.00'],
      ['1011', 'credit', '75.00'],
      [`7101.${d.code}`, 'debit', '75.00'],
      ['8001', 'credit', '75.00'],
    ]);
    const prepared = [];
    for (let i = 0; i < 60; i++) prepared.push(await prepare(fundId, payment));
    expect(countBy(prepared.map((r) => r.status))).toEqual({ 201: 60 });
    const results = await Promise.all(prepared.map((p) => approve(p.body.id)));
    // 1000.00 / 75.00 = 13 payments fit, leaving 25.00.
    expect(countBy(results.map((r) => r.status))).toEqual({ 200: 13, 409: 47 });
    expect(new Set(results.filter((r) => r.status === 409).map((r) => r.body.code))).toEqual(new Set(['INSUFFICIENT_BALANCE']));
    const fund = (await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body;
    // A manual payment moves cash, never the fund's figure `disbursed` (kept by kind).
    expect(fund).toMatchObject({ cash_balance: '25.00', disbursed: '0.00', entries: 15 });
    const pending = await h.api.get(`/api/v1/funds/${fundId}/journal-entries?status=pending&limit=100`).set(accountant.auth);
    expect(pending.body.items).toHaveLength(47);
  });

  it('posts exactly the 137 of 200 payments approved at once that the cash fits, answering each request for itself', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '137.00');
    await approveEntry(h, (await prepare(fundId, allocation(d.code, '137.00'))).body.id, checker);
    const payment = entry([
      [`2307.${d.code}`, 'debit', '1.00'],
      ['1011', 'credit', '1.00'],
      [`7101.${d.code}`, 'debit', '1.00'],
      ['8001', 'credit', '1.00'],
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(String((await prepare(fundId, payment)).body.id));
    const results = await Promise.all(ids.map((id) => approve(id)));
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    expect(countBy(results.map((r) => r.status))).toEqual({ 200: 137, 409: 63 });
    results.forEach((r, i) => {
      // Each answer is about the entry its request named: posted with its own id, or refused for the overdraft.
      if (r.status === 200) expect(r.body).toMatchObject({ id: ids[i], status: 'posted', approved_by: checker.id });
      else expect(r.body).toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
    });
    const postedIds = results.flatMap((r, i) => (r.status === 200 ? [ids[i]] : []));
    const inJournal = await h.db('journal_entries').whereIn('id', ids).pluck('id');
    expect(new Set(inJournal.map(String))).toEqual(new Set(postedIds));
    const fund = (await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body;
    expect(fund).toMatchObject({ cash_balance: '0.00' });
    const pending = await h.api.get(`/api/v1/funds/${fundId}/journal-entries?status=pending&limit=100`).set(accountant.auth);
    expect(pending.body.items.map((e: { id: string }) => e.id).sort()).toEqual(results.flatMap((r, i) => (r.status === 409 ? [ids[i]] : [])).sort());
    const verify = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(accountant.auth);
    expect(verify.body).toMatchObject({ ok: true });
  });

  it('posts once when two accountants approve one entry at once', async () => {
    const d = await makeDepartment(h.db);
    const third = await makeUser(h.db, 'accountant');
    const fundId = await makeFund(h, accountant, '100.00');
    for (let round = 0; round < 5; round++) {
      const prepared = await prepare(fundId, allocation(d.code, '1.00'));
      const results = await Promise.all([
        approve(prepared.body.id, checker),
        approve(prepared.body.id, third),
        approve(prepared.body.id, checker),
        approve(prepared.body.id, third),
      ]);
      expect(countBy(results.map((r) => r.status))).toEqual({ 200: 1, 409: 3 });
      expect(new Set(results.filter((r) => r.status === 409).map((r) => r.body.code))).toEqual(new Set(['ALREADY_POSTED']));
      expect(await h.db('journal_entries').where({ id: prepared.body.id })).toHaveLength(1);
    }
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body.entries).toBe(6);
  });

  it('prepares one reversal of an entry when 20 arrive at once', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    const target = await approve((await prepare(fundId, allocation(d.code, '5.00'))).body.id);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => h.api.post(`/api/v1/journal-entries/${target.body.id}/reversal`).set(accountant.auth).send({})),
    );
    expect(countBy(results.map((r) => r.status))).toEqual({ 201: 1, 409: 19 });
    expect(await h.db('pending_entries').where({ reverses_entry_id: target.body.id })).toHaveLength(1);
  });

  it('prepares once when one Idempotency-Key is sent 50 times at once; the others replay or conflict', async () => {
    const fundId = await makeFund(h, accountant);
    const body = { amount: '300.00', document_no: 'IDEM-1', date: '2011-06-01' };
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', `k-${fundId}`).send(body),
      ),
    );
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const created = results.filter((r) => r.status === 201);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect(created.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(await h.db('pending_entries').where({ fund_id: fundId })).toHaveLength(1);
    await approve(created[0]!.body.id);
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).body.appropriated).toBe('300.00');
  });
});

describe('idempotency', () => {
  it('replays the first response for the same key and body, marked Idempotent-Replayed', async () => {
    const fundId = await makeFund(h, accountant);
    const body = { amount: '10.00', document_no: 'R-1', date: '2011-06-01' };
    const first = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'replay-me').send(body);
    const second = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .set('Idempotency-Key', 'replay-me')
      .send({ date: '2011-06-01', document_no: 'R-1', amount: '10.00' });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(await h.db('pending_entries').where({ fund_id: fundId })).toHaveLength(1);
  });

  it('refuses the same key with another body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const fundId = await makeFund(h, accountant);
    await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .set('Idempotency-Key', 'reuse')
      .send({ amount: '10.00', document_no: 'R', date: '2011-06-01' });
    const res = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .set('Idempotency-Key', 'reuse')
      .send({ amount: '11.00', document_no: 'R', date: '2011-06-01' });
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
    expect(await h.db('pending_entries').where({ fund_id: fundId })).toHaveLength(2);
  });

  it('lets a key be retried after a refused request, since nothing happened', async () => {
    const fundId = await makeFund(h, accountant, '10.00');
    const code = unique('LATER');
    const body = entry([
      [`5001.${code}`, 'debit', '20.00'],
      [`2307.${code}`, 'credit', '20.00'],
    ]);
    const refused = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).set('Idempotency-Key', 'retry').send(body);
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('UNKNOWN_ACCOUNT');
    await h.db('departments').insert({ code, name: '后来登记的单位', group: 'government', status: 'not_started' });
    const retried = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).set('Idempotency-Key', 'retry').send(body);
    expect(retried.status).toBe(201);
  });

  it('refuses a key longer than 255 characters', async () => {
    const fundId = await makeFund(h, accountant);
    const res = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .set('Idempotency-Key', 'k'.repeat(256))
      .send({ amount: '1.00', document_no: 'x', date: '2011-06-01' });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].field).toBe('Idempotency-Key');
  });
});
