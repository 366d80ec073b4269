import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { createMigratedDatabase, dropDatabase, poolUrlFor } from '../support/databases.ts';
import { approveEntry, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Incremental verify (issue 15): it recomputes only the entries after the last checkpoint, so it
 * must find what changed after it, and say plainly what it cannot see below it. Tampering is done as
 * the owner with the triggers off, in a database of its own, as in verify-tamper.test.ts.
 */
let ownerUrl: string;
let owner: Knex;
let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let deptCode: string;

beforeAll(async () => {
  ownerUrl = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_incremental');
  owner = createKnex(ownerUrl, 2, 60_000, 'jiangbu-owner');
  h = openHarness(await poolUrlFor(ownerUrl));
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  deptCode = (await makeDepartment(h.db)).code;
});
afterAll(async () => {
  await h.close();
  await owner.destroy();
  await dropDatabase(ownerUrl);
});

const tamper = (sql: string, bindings: readonly Knex.RawBinding[] = []) =>
  owner.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    await trx.raw(sql, bindings);
  });
const verify = async (fundId: string, mode?: string) =>
  (
    await h.api
      .get(`/api/v1/funds/${fundId}/ledger/verify`)
      .query(mode ? { mode } : {})
      .set(auditor.auth)
  ).body;

async function allocate(fundId: string, amount: string) {
  const r = await h.api
    .post(`/api/v1/funds/${fundId}/journal-entries`)
    .set(accountant.auth)
    .send({
      date: '2011-07-01',
      memo: `allocate ${amount}`,
      postings: [
        { account_code: `5001.${deptCode}`, side: 'debit', amount },
        { account_code: `2307.${deptCode}`, side: 'credit', amount },
      ],
    });
  expect(r.status).toBe(201);
  await approveEntry(h, r.body.id);
}

/** A fund of four entries verified in full (the checkpoint at seq 4), then two more (seq 5–6). */
async function checkpointedFund(): Promise<string> {
  const fundId = await makeFund(h, accountant, '1000.00');
  for (const amount of ['100.00', '50.00', '25.00']) await allocate(fundId, amount);
  expect(await verify(fundId, 'full')).toMatchObject({ ok: true, entries: 4, mode: 'full', checkpoint: null, entries_checked: 4 });
  await allocate(fundId, '5.00');
  await allocate(fundId, '6.00');
  return fundId;
}

const entryId = async (fundId: string, seq: number) => (await owner('journal_entries').where({ fund_id: fundId, seq }).first('id')).id;

describe('incremental verify', () => {
  it('without a checkpoint verifies in full; after one, recomputes only the newer entries and moves the checkpoint', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    await allocate(fundId, '1.00');
    expect(await verify(fundId, 'incremental')).toMatchObject({ ok: true, mode: 'full', checkpoint: null, entries: 2, entries_checked: 2 });
    await allocate(fundId, '2.00');
    const report = await verify(fundId, 'incremental');
    expect(report).toMatchObject({ ok: true, mode: 'incremental', checkpoint: { seq: 2, mode: 'full' }, entries: 3, entries_checked: 1, problems: [] });
    expect(await verify(fundId, 'incremental')).toMatchObject({
      ok: true,
      mode: 'incremental',
      checkpoint: { seq: 3, mode: 'incremental' },
      entries_checked: 0,
    });
  });

  it('finds an entry changed after the checkpoint, and a verify that does not hold leaves no checkpoint', async () => {
    const fundId = await checkpointedFund();
    await tamper(`UPDATE postings SET amount = 60.00 WHERE entry_id = ? AND side = 'debit'`, [await entryId(fundId, 6)]);
    const report = await verify(fundId, 'incremental');
    expect(report).toMatchObject({ ok: false, mode: 'incremental', checkpoint: { seq: 4 }, entries_checked: 2, first_bad_seq: 6 });
    expect(report.problems.map((p: { kind: string }) => p.kind)).toEqual(expect.arrayContaining(['entry_hash', 'entry_unbalanced']));
    expect(await owner('ledger_verify_checkpoints').where({ fund_id: fundId }).pluck('seq')).toEqual(['4']);
  });

  it('finds a stored balance that no longer follows from the postings, wherever they were checked', async () => {
    const fundId = await checkpointedFund();
    await tamper(`UPDATE accounts SET balance = balance + 1 WHERE fund_id = ? AND code = '1011'`, [fundId]);
    const report = await verify(fundId, 'incremental');
    expect(report).toMatchObject({ ok: false, mode: 'incremental' });
    expect(report.problems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'account_balance', account: '1011' })]));
  });

  it('finds the chain rewritten through the checkpoint’s entry, and a tail cut below it', async () => {
    const fundId = await checkpointedFund();
    await tamper(`UPDATE journal_entries SET hash = repeat('b', 64) WHERE id = ?`, [await entryId(fundId, 4)]);
    const rewritten = await verify(fundId, 'incremental');
    expect(rewritten).toMatchObject({ ok: false, first_bad_seq: 4 });
    expect(rewritten.problems[0]).toMatchObject({ kind: 'chain_link', seq: 4 });

    const cut = await checkpointedFund();
    await verify(cut, 'full');
    const three = await owner('journal_entries').where({ fund_id: cut, seq: 3 }).first('hash');
    for (const seq of [6, 5, 4]) {
      const id = await entryId(cut, seq);
      await tamper('DELETE FROM postings WHERE entry_id = ?', [id]);
      await tamper('DELETE FROM journal_entries WHERE id = ?', [id]);
    }
    await tamper('UPDATE funds SET head_seq = 3, head_hash = ? WHERE id = ?', [three.hash, cut]);
    const report = await verify(cut, 'incremental');
    expect(report.ok).toBe(false);
    expect(report.problems.map((p: { kind: string }) => p.kind)).toContain('chain_link');
  });

  it('cannot see an old entry changed below the checkpoint with its stored hash left alone — a full verify does', async () => {
    const fundId = await checkpointedFund();
    await tamper(`UPDATE journal_entries SET memo = 'rewritten' WHERE id = ?`, [await entryId(fundId, 2)]);
    expect(await verify(fundId, 'incremental')).toMatchObject({ ok: true, mode: 'incremental', entries_checked: 2 });
    const full = await verify(fundId, 'full');
    expect(full).toMatchObject({ ok: false, first_bad_seq: 2 });
    expect(full.problems[0]).toMatchObject({ kind: 'entry_hash', seq: 2 });
  });

  it('finds a day balance changed on a day an entry after the checkpoint is dated; one of an account no new entry touches is left to a full verify', async () => {
    const fundId = await checkpointedFund();
    const accountId = async (code: string) => (await owner('accounts').where({ fund_id: fundId, code }).first('id')).id as string;
    // 2307.d is touched by seq 5–6 (2011-07-01); 4001 only by seq 1 (2011-06-01), below the checkpoint.
    await tamper("UPDATE account_day_balances SET balance = balance + 3 WHERE account_id = ? AND day = '2011-07-01'", [await accountId(`2307.${deptCode}`)]);
    await tamper("UPDATE account_day_balances SET balance = balance - 4 WHERE account_id = ? AND day = '2011-06-01'", [await accountId('4001')]);
    const report = await verify(fundId, 'incremental');
    expect(report).toMatchObject({ ok: false, mode: 'incremental', entries_checked: 2 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'day_balance', account: `2307.${deptCode}`, day: '2011-07-01' })]);
    const full = await verify(fundId, 'full');
    expect(full.problems).toEqual([
      expect.objectContaining({ kind: 'day_balance', account: '4001', day: '2011-06-01' }),
      expect.objectContaining({ kind: 'day_balance', account: `2307.${deptCode}`, day: '2011-07-01' }),
    ]);
  });

  it('finds the last day balance of a touched account moved away from its running sum on a later day', async () => {
    const fundId = await checkpointedFund();
    // A forged later row for 2307.d: its step from 2011-07-01 has no postings behind it.
    const account = (
      await owner('accounts')
        .where({ fund_id: fundId, code: `2307.${deptCode}` })
        .first('id')
    ).id;
    await tamper("INSERT INTO account_day_balances (account_id, day, balance) VALUES (?, '2011-08-01', 999)", [account]);
    const report = await verify(fundId, 'incremental');
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'day_balance', account: `2307.${deptCode}`, day: '2011-08-01' })]);
  });

  it('refuses a mode it does not know', async () => {
    const fundId = await makeFund(h, accountant);
    const r = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).query({ mode: 'quick' }).set(auditor.auth);
    expect(r.status).toBe(422);
    expect(r.headers['content-type']).toContain('application/problem+json');
  });
});
