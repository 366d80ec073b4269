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
