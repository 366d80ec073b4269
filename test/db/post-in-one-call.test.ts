import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postInOneCall } from '../../server/ledger/post-in-one-call.ts';
import { postEntries } from '../../server/ledger/post-entries.ts';
import type { EntryDraft } from '../../server/ledger/entry-rules.ts';
import { checkerOf, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Issue 14: the paths that post without a prepared entry (runs, payments, refunds, clawbacks) post
 * in one call into PostgreSQL (ledger_post_drafts). What it posts must be what the step-by-step path
 * would have posted (the chain verifies, the 凭证字号 follow on); what a rule refuses it must refuse
 * having written nothing, leaving the caller's transaction usable for the path that explains it.
 */
let h: Harness;
let accountant: TestUser;
let checker: TestUser;
let auditor: TestUser;
let dept: { id: string; code: string };

beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  checker = await checkerOf(h);
  auditor = await makeUser(h.db, 'auditor');
  dept = await makeDepartment(h.db);
});
afterAll(() => h.close());

const allocation = (amount: string, memo = 'allocation'): EntryDraft => ({
  date: '2011-07-01',
  kind: 'allocation',
  memo,
  departmentId: dept.id,
  postings: [
    { accountCode: `5001.${dept.code}`, side: 'debit', amount: new Decimal(amount) },
    { accountCode: `2307.${dept.code}`, side: 'credit', amount: new Decimal(amount) },
  ],
});
const people = () => ({ createdBy: accountant.id, approvedBy: checker.id });

describe('posting in one call (ledger_post_drafts)', () => {
  it('posts allocations as the step-by-step path would: running balances, 凭证字号 in sequence, a chain that verifies', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    // The unit's sub-accounts do not exist yet: the first posting opens them through the explaining path.
    const [opened] = await h.db.transaction((trx) => postEntries(trx, fundId, people(), [allocation('100.00', 'opens the accounts')]));
    const posted = await h.db.transaction((trx) => postInOneCall(trx, fundId, people(), [allocation('200.00'), allocation('300.00')]));
    expect(posted).not.toBeNull();
    expect(posted!.map((e) => e.seq)).toEqual([opened!.seq + 1, opened!.seq + 2]);
    expect(posted!.map((e) => e.voucher_number)).toEqual([opened!.voucher_number + 1, opened!.voucher_number + 2]);
    expect(posted![1]!.prev_hash).toBe(posted![0]!.hash);
    expect(posted![1]!.postings.find((p) => p.account_code === `2307.${dept.code}`)!.balance_after).toBe('600.00');
    const fund = await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth);
    expect(fund.body).toMatchObject({ allocated: '600.00', available_to_allocate: '400.00' });
    const verify = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth);
    expect(verify.body.ok).toBe(true);
    // What it answered is what the journal shows.
    const shown = await h.api.get(`/api/v1/journal-entries/${posted![1]!.id}`).set(accountant.auth);
    expect(shown.body).toMatchObject({ seq: posted![1]!.seq, hash: posted![1]!.hash, voucher_no: posted![1]!.voucher_no, created_at: posted![1]!.created_at });
  });

  it('refuses an allocation beyond the appropriation having written nothing, and the explaining path then says why', async () => {
    const fundId = await makeFund(h, accountant, '500.00');
    await h.db.transaction((trx) => postEntries(trx, fundId, people(), [allocation('100.00')]));
    const before = await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth);
    await expect(
      h.db.transaction(async (trx) => {
        expect(await postInOneCall(trx, fundId, people(), [allocation('300.00'), allocation('200.00')])).toBeNull();
        // The transaction is still usable: the same call through postEntries explains the refusal.
        return postEntries(trx, fundId, people(), [allocation('300.00'), allocation('200.00')]);
      }),
    ).rejects.toMatchObject({ code: 'OVER_APPROPRIATION' });
    const after = await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth);
    expect(after.body).toEqual(before.body);
  });

  it('leaves a closed period and an unknown account to the explaining path', async () => {
    const fundId = await makeFund(h, accountant, '500.00');
    await h.db.transaction((trx) => postEntries(trx, fundId, people(), [allocation('100.00')]));
    const future = { ...allocation('1.00'), date: '2999-01-01' };
    expect(await h.db.transaction((trx) => postInOneCall(trx, fundId, people(), [future]))).toBeNull();
    const unknown: EntryDraft = {
      ...allocation('1.00'),
      postings: [...allocation('1.00').postings.slice(0, 1), { accountCode: '9999', side: 'credit', amount: new Decimal('1.00') }],
    };
    expect(await h.db.transaction((trx) => postInOneCall(trx, fundId, people(), [unknown]))).toBeNull();
    await expect(h.db.transaction((trx) => postEntries(trx, fundId, people(), [future]))).rejects.toMatchObject({ code: 'DATE_OUT_OF_PERIOD' });
  });
});

/*
 * Approvals that arrive together are approved in one call (ledger_approve_prepared, migration 025):
 * checked as one set and written as one, or, when any item fails a rule, handed to the in-turn path
 * of migration 012. Either way each answer must be the entry as the journal shows it.
 */
describe('approving a group in one call (ledger_approve_prepared)', () => {
  const fen = (memo: string) => ({
    date: '2011-07-01',
    memo,
    postings: [
      { account_code: `5001.${dept.code}`, side: 'debit', amount: '0.01' },
      { account_code: `2307.${dept.code}`, side: 'credit', amount: '0.01' },
    ],
  });
  async function prepare(fundId: string, memo: string) {
    const res = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(fen(memo));
    expect(res.status).toBe(201);
    return String(res.body.id);
  }
  /** A fund whose unit accounts are open (the first approval opens them through the explaining path). */
  async function openFund() {
    const fundId = await makeFund(h, accountant, '1000.00');
    const first = await h.api
      .post(`/api/v1/journal-entries/${await prepare(fundId, 'opens the accounts')}/approve`)
      .set(checker.auth)
      .send({});
    expect(first.status).toBe(200);
    return fundId;
  }
  const item = (id: string, key?: string) => ({
    id,
    approver_id: checker.id,
    approver_username: checker.username,
    approver_role: checker.role,
    request_id: `req-${id}`,
    ip: '127.0.0.1',
    idempotency_key: key ?? null,
    request_hash: key ? `hash-${key}` : null,
  });
  const approveGroup = async (items: unknown[]) =>
    (await h.db.raw('SELECT ledger_approve_prepared(?::jsonb) AS results', [JSON.stringify(items)])).rows[0].results as Array<{
      posted: boolean;
      entry?: { id: string; seq: number; hash: string; prev_hash: string };
      reason?: string;
    }>;

  it('posts a group spanning two funds in item order, each answer as the journal shows it, each fund’s chain verifying', async () => {
    const [a, b] = [await openFund(), await openFund()];
    const ids = [await prepare(a, 'a1'), await prepare(b, 'b1'), await prepare(a, 'a2'), await prepare(b, 'b2'), await prepare(a, 'a3')];
    const results = await approveGroup(ids.map((id, i) => item(id, i === 2 ? `group-key-${id}` : undefined)));
    expect(results.map((r) => r.posted)).toEqual([true, true, true, true, true]);
    for (const [i, r] of results.entries()) {
      const shown = await h.api.get(`/api/v1/journal-entries/${ids[i]}`).set(accountant.auth);
      expect(r.entry).toEqual(shown.body);
    }
    // In each fund the entries follow one another in the order the items came.
    const [a1, , a2, , a3] = results.map((r) => r.entry!);
    expect([a2!.seq, a3!.seq]).toEqual([a1!.seq + 1, a1!.seq + 2]);
    expect([a2!.prev_hash, a3!.prev_hash]).toEqual([a1!.hash, a2!.hash]);
    for (const fundId of [a, b]) expect((await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth)).body.ok).toBe(true);
    const audit = await h.db('audit_log').whereIn('object_id', ids).where({ action: 'ledger.manual_approve' }).select('object_id', 'actor_id', 'request_id');
    expect(audit.map((r) => r.object_id).sort()).toEqual([...ids].sort());
    const key = await h
      .db('idempotency_keys')
      .where({ user_id: checker.id, key: `group-key-${ids[2]}` })
      .first();
    expect(key).toMatchObject({ status_code: 200, request_hash: `hash-group-key-${ids[2]}` });
    expect(key.response).toEqual(results[2]!.entry);
  });

  it('posts the others when one item was decided already or is named twice, refusing only that one', async () => {
    const fundId = await openFund();
    const [x, y, z] = [await prepare(fundId, 'x'), await prepare(fundId, 'y'), await prepare(fundId, 'z')];
    expect((await h.api.post(`/api/v1/journal-entries/${y}/approve`).set(checker.auth).send({})).status).toBe(200);
    const results = await approveGroup([item(x), item(y), item(z), item(z)]);
    expect(results.map((r) => r.posted)).toEqual([true, false, true, false]);
    expect(results[1]!.reason).toBe('not_pending');
    const shown = await h.api.get(`/api/v1/journal-entries/${z}`).set(accountant.auth);
    expect(results[2]!.entry).toEqual(shown.body);
    expect((await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth)).body.ok).toBe(true);
  });
});
