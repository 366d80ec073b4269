import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkerOf, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Migration 025: the set-based ledger_approve_prepared must write what ledger_approve_prepared_in_turn
 * (012) writes and answer what it answers. Each scenario is run through both functions from the same
 * state (each in a transaction rolled back), and the rows they write are compared; the clock-dependent
 * columns (created_at and so the hashes) are left out. A group committed for real answers each entry as
 * the journal shows it. And neither function may deadlock with a batch's approval.
 */
let h: Harness;
let accountant: TestUser;
let checker: TestUser;
let auditor: TestUser;
let dept: { id: string; code: string };
let dept2: { id: string; code: string };

beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  checker = await checkerOf(h);
  auditor = await makeUser(h.db, 'auditor');
  dept = await makeDepartment(h.db);
  dept2 = await makeDepartment(h.db);
});
afterAll(() => h.close());

const p = (account_code: string, side: 'debit' | 'credit', amount: string) => ({ account_code, side, amount });
async function prepare(fundId: string, body: Record<string, unknown>) {
  const res = await h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(accountant.auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return String(res.body.id);
}
const alloc = (d: { code: string }, amount: string, memo: string, date = '2011-07-01', extra: Record<string, unknown> = {}) => ({
  date,
  memo,
  ...extra,
  postings: [p(`5001.${d.code}`, 'debit', amount), p(`2307.${d.code}`, 'credit', amount)],
});
const unalloc = (d: { code: string }, amount: string, memo: string, date = '2011-07-02') => ({
  date,
  memo,
  postings: [p(`2307.${d.code}`, 'debit', amount), p(`5001.${d.code}`, 'credit', amount)],
});
async function approve(id: string) {
  const res = await h.api.post(`/api/v1/journal-entries/${id}/approve`).set(checker.auth).send({});
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}
/** A fund whose unit accounts of both departments are open. */
async function openFund() {
  const fundId = await makeFund(h, accountant, '1000.00');
  await approve(await prepare(fundId, alloc(dept, '1.00', 'opens')));
  await approve(await prepare(fundId, alloc(dept2, '1.00', 'opens')));
  return fundId;
}
const item = (id: string, key?: string, who: TestUser = checker) => ({
  id,
  approver_id: who.id,
  approver_username: who.username,
  approver_role: who.role,
  request_id: `req-${id}`,
  ip: '127.0.0.1',
  idempotency_key: key ?? null,
  request_hash: key ? `hash-${key}` : null,
});
type Result = { posted: boolean; entry?: Record<string, unknown>; reason?: string };
const call = async (db: Knex, fn: string, items: unknown[]) =>
  (await db.raw(`SELECT ${fn}(?::jsonb) AS results`, [JSON.stringify(items)])).rows[0].results as Result[];

const clock = (v: Record<string, unknown> | null | undefined) => {
  if (!v) return v;
  const { created_at: _c, hash: _h, prev_hash: _p, ...rest } = v;
  return rest;
};
/** Everything the call wrote or answered, but for the clock and what follows from it. */
async function snapshot(trx: Knex, funds: string[], ids: string[], results: Result[]) {
  const accounts = await trx('accounts').whereIn('fund_id', funds).orderBy('id').select('id', 'balance', 'posting_count');
  const accountIds = accounts.map((a) => a.id);
  const postings = await trx('postings').whereIn('entry_id', ids).orderBy('id').select('entry_id', 'account_id', 'side', 'amount', 'balance_after');
  return {
    answers: results.map((r) => ({ ...r, entry: clock(r.entry) })),
    entries: await trx('journal_entries')
      .whereIn('id', ids)
      .orderBy(['fund_id', 'seq'])
      .select('id', 'fund_id', 'seq', 'entry_date', 'kind', 'memo', 'document_no', 'department_id', 'reverses_entry_id', 'created_by', 'approved_by'),
    postings,
    pending: await trx('pending_entries').whereIn('id', ids).orderBy('id').select('id', 'status', 'decided_by'),
    vouchers: await trx('voucher_numbers').whereIn('entry_id', ids).orderBy('entry_id'),
    audit: (
      await trx('audit_log')
        .whereIn('object_id', ids)
        .where('action', 'like', '%_approve')
        .orderBy('id')
        .select('actor_id', 'actor_username', 'actor_role', 'action', 'object_type', 'object_id', 'request_id', 'ip', 'before', 'after')
    ).map((r) => ({ ...r, after: clock(r.after) })),
    keys: (await trx('idempotency_keys').where({ user_id: checker.id }).orderBy('key').select('key', 'request_hash', 'status_code', 'response')).map((k) => ({
      ...k,
      response: clock(k.response),
    })),
    accounts,
    funds: await trx('funds').whereIn('id', funds).orderBy('id').select('id', 'head_seq', 'appropriated', 'allocated', 'disbursed', 'closed_through'),
    units: await trx('fund_unit_figures').whereIn('fund_id', funds).orderBy(['fund_id', 'department_id']),
    days: await trx('account_day_balances').whereIn('account_id', accountIds).orderBy(['account_id', 'day']),
  };
}
class Rollback extends Error {}
async function runAndRollBack(fn: string, funds: string[], ids: string[], items: unknown[]) {
  let snap: Awaited<ReturnType<typeof snapshot>> | undefined;
  await h.db
    .transaction(async (trx) => {
      const results = await call(trx, fn, items);
      snap = await snapshot(trx, funds, ids, results);
      throw new Rollback();
    })
    .catch((e) => {
      if (!(e instanceof Rollback)) throw e;
    });
  return snap!;
}
/** Which function produced an answer: the fast path builds it with json_build_object (entryView's key order), the in-turn path from jsonb (keys by length). */
const fastPathAnswered = (r: { posted: boolean; entry?: Record<string, unknown> | null }) => r.posted && Object.keys(r.entry ?? {})[1] === 'fund_id';

describe('ledger_approve_prepared (025) against ledger_approve_prepared_in_turn (012)', () => {
  it('writes and answers the same for a group over two funds, two units, several dates, keys and special memos', async () => {
    const [a, b] = [await openFund(), await openFund()];
    const ids = [
      await prepare(a, alloc(dept, '10.00', 'a1 "quoted" \\ back\tslash 中文')),
      await prepare(b, alloc(dept2, '20.00', 'b1', '2011-07-03', { document_no: 'DOC-1' })),
      await prepare(a, unalloc(dept, '5.50', 'a2')),
      await prepare(a, alloc(dept2, '0.01', 'a3', '2011-06-15')),
      await prepare(b, unalloc(dept2, '20.00', 'b2 takes it back')),
      await prepare(a, unalloc(dept, '4.50', 'a4 to the fen')),
    ];
    const items = ids.map((id, i) => item(id, i % 2 ? `k-${id}` : undefined));
    const fast = await runAndRollBack('ledger_approve_prepared', [a, b], ids, items);
    const turn = await runAndRollBack('ledger_approve_prepared_in_turn', [a, b], ids, items);
    expect(fast.answers.every((r) => r.posted)).toBe(true);
    // Posted by the set-based path itself, not by its fallback.
    expect(fast.answers.every(fastPathAnswered)).toBe(true);
    expect(fast).toEqual(turn);
  });
});

type Posted = { id: string; seq: number; hash: string; prev_hash: string };
const posted = (r: Result) => r.entry as unknown as Posted;

describe('a group posted by the set-based path, after its commit', () => {
  it('posts a group spanning two funds in item order, each answer as the journal shows it, each fund’s chain verifying', async () => {
    const [a, b] = [await openFund(), await openFund()];
    const ids = [
      await prepare(a, alloc(dept, '0.01', 'a1')),
      await prepare(b, alloc(dept, '0.01', 'b1')),
      await prepare(a, alloc(dept, '0.01', 'a2')),
      await prepare(b, alloc(dept, '0.01', 'b2')),
      await prepare(a, alloc(dept, '0.01', 'a3')),
    ];
    const results = await call(
      h.db,
      'ledger_approve_prepared',
      ids.map((id, i) => item(id, i === 2 ? `group-key-${id}` : undefined)),
    );
    expect(results.map((r) => r.posted)).toEqual([true, true, true, true, true]);
    for (const [i, r] of results.entries()) {
      const shown = await h.api.get(`/api/v1/journal-entries/${ids[i]}`).set(accountant.auth);
      expect(r.entry).toEqual(shown.body);
    }
    // In each fund the entries follow one another in the order the items came.
    const [a1, , a2, , a3] = results.map(posted);
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
    const [x, y, z] = [
      await prepare(fundId, alloc(dept, '0.01', 'x')),
      await prepare(fundId, alloc(dept, '0.01', 'y')),
      await prepare(fundId, alloc(dept, '0.01', 'z')),
    ];
    expect((await h.api.post(`/api/v1/journal-entries/${y}/approve`).set(checker.auth).send({})).status).toBe(200);
    const results = await call(h.db, 'ledger_approve_prepared', [item(x), item(y), item(z), item(z)]);
    expect(results.map((r) => r.posted)).toEqual([true, false, true, false]);
    expect(results[1]!.reason).toBe('not_pending');
    const shown = await h.api.get(`/api/v1/journal-entries/${z}`).set(accountant.auth);
    expect(results[2]!.entry).toEqual(shown.body);
    expect((await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth)).body.ok).toBe(true);
  });
});

/** A pending row written directly (what prepareEntries would refuse to store: a future date, an unknown account). */
async function pendingRow(fundId: string, date: string, postings: unknown[]) {
  const [row] = await h
    .db('pending_entries')
    .insert({ fund_id: fundId, kind: 'manual', entry_date: date, memo: 'direct', postings: JSON.stringify(postings), created_by: accountant.id })
    .returning('id');
  return String(row.id);
}

describe('every item the in-turn path refuses is refused (the fast path never posts it)', () => {
  it('refuses the same items, posts the same others, in each case', async () => {
    const fundId = await openFund();
    const other = await makeUser(h.db, 'accountant');
    const posted = await prepare(fundId, alloc(dept, '1.00', 'posted already'));
    await approve(posted);
    const rejected = await prepare(fundId, alloc(dept, '1.00', 'rejected'));
    expect((await h.api.post(`/api/v1/journal-entries/${rejected}/reject`).set(checker.auth).send({ reason: 'no' })).status).toBe(200);
    const batch = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries/batch`)
      .set(accountant.auth)
      .send({ entries: [alloc(dept, '1.00', 'in a batch'), alloc(dept, '1.00', 'in a batch')] });
    expect(batch.status, JSON.stringify(batch.body)).toBe(201);
    const batchId = String(batch.body.batch_id ?? batch.body.id);
    const batched = String((await h.db('pending_entries').where({ batch_id: batchId }).orderBy('position').first('id')).id);
    const own = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries`)
      .set(checker.auth)
      .send(alloc(dept, '1.00', 'the checker prepared it'));
    expect(own.status).toBe(201);
    await h.db('idempotency_keys').insert({ user_id: checker.id, key: 'used-before', request_hash: 'x', status_code: 200, response: '{}' });
    const future = await pendingRow(fundId, '2999-01-01', alloc(dept, '1.00', '').postings);
    const early = await pendingRow(fundId, '2010-12-31', alloc(dept, '1.00', '').postings);
    const unknown = await pendingRow(fundId, '2011-07-01', [p(`5001.${dept.code}`, 'debit', '1.00'), p('2307.NOPE', 'credit', '1.00')]);
    const overdraw = async () => [await prepare(fundId, unalloc(dept, '2.00', 'x')), await prepare(fundId, unalloc(dept, '2.00', 'y'))];
    const fresh = () => prepare(fundId, alloc(dept2, '0.01', 'fresh'));
    const cases: Array<[string, () => Promise<unknown[]>]> = [
      ['posted already', async () => [item(await fresh()), item(posted)]],
      ['rejected', async () => [item(await fresh()), item(rejected)]],
      ['in a batch', async () => [item(await fresh()), item(batched)]],
      [
        'named twice',
        async () => {
          const x = await fresh();
          return [item(x), item(await fresh()), item(x)];
        },
      ],
      ['preparer approving', async () => [item(await fresh()), item(String(own.body.id))]],
      ['key used before', async () => [item(await fresh()), item(await fresh(), 'used-before')]],
      ['key twice in the group', async () => [item(await fresh(), 'twice'), item(await fresh(), 'twice')]],
      ['same key, two approvers', async () => [item(await fresh(), 'both'), item(await fresh(), 'both', other)]],
      ['future date', async () => [item(await fresh()), item(future)]],
      ['before the opening date', async () => [item(await fresh()), item(early)]],
      ['unknown account', async () => [item(await fresh()), item(unknown)]],
      [
        'overdraft in item order',
        async () => {
          const [x, y] = await overdraw();
          return [item(await fresh()), item(x!), item(y!)];
        },
      ],
      ['no such pending row', async () => [item(await fresh()), item('999999999')]],
    ];
    for (const [name, make] of cases) {
      const items = await make();
      const ids = (items as Array<{ id: string }>).map((i) => i.id);
      const fast = await runAndRollBack('ledger_approve_prepared', [fundId], ids, items);
      const turn = await runAndRollBack('ledger_approve_prepared_in_turn', [fundId], ids, items);
      expect(
        fast.answers.map((r) => r.posted),
        name,
      ).toEqual(turn.answers.map((r) => r.posted));
      expect(fast, name).toEqual(turn);
    }
  });
});

/** Waits until `n` sessions of this database wait on a lock. */
async function blocked(n: number) {
  for (let i = 0; i < 200; i++) {
    const { rows } = await h.db.raw(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    if (rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fewer than ${n} sessions waiting`);
}
const settle = (q: Promise<unknown>) =>
  q.then(
    (value) => ({ value }),
    (e: Error) => ({ error: e.message }),
  );

async function batchMemberWhileBatchApproves() {
  const fundId = await openFund();
  const res = await h.api
    .post(`/api/v1/funds/${fundId}/journal-entries/batch`)
    .set(accountant.auth)
    .send({ entries: [alloc(dept, '1.00', 'batch 1'), alloc(dept, '1.00', 'batch 2')] });
  expect(res.status).toBe(201);
  const batchId = String(res.body.batch_id ?? res.body.id);
  const member = String((await h.db('pending_entries').where({ batch_id: batchId }).orderBy('position').first('id')).id);
  // Another posting to the fund is under way (any approval of it holds the fund's row until it commits).
  const holder = await h.db.transaction();
  await holder('funds').where({ id: fundId }).forUpdate().first('id');
  // The batch's approval waits for the fund; meanwhile a coalesced group naming one of its members
  // (POST /journal-entries/:member/approve, which can only be refused) comes in.
  const { id: _i, ...approver } = item(batchId);
  const batch = settle(h.db.raw('SELECT ledger_approve_batch(?::jsonb) AS result', [JSON.stringify({ batch_id: batchId, ...approver })]));
  await blocked(1);
  const group = settle(call(h.db, process.env.GROUP_FN ?? 'ledger_approve_prepared', [item(member)]));
  await blocked(2);
  await holder.commit();
  const [g, b] = await Promise.all([group, batch]);
  expect(g).toEqual({ value: [{ posted: false, reason: 'not_pending' }] });
  expect(b).not.toHaveProperty('error');
}

describe('lock order against the batch path', () => {
  it('an approval naming a batch member, coalesced while that batch is approved, does not deadlock', batchMemberWhileBatchApproves);
});
