import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeExpiredIdempotencyKeys } from '../../server/http/idempotency-purge.ts';
import { approveEntry, asOwner, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Issue 15: the reads that stay fast at province scale must still be right — the as-of trial balance
 * kept by the day balances, pages that hold still while others post, and cursors that are checked.
 */
let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let dept: { id: string; code: string };

beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  dept = await makeDepartment(h.db);
});
afterAll(() => h.close());

async function post(fundId: string, date: string, amount: string, memo = `allocate on ${date}`) {
  const r = await h.api
    .post(`/api/v1/funds/${fundId}/journal-entries`)
    .set(accountant.auth)
    .send({
      date,
      memo,
      postings: [
        { account_code: `5001.${dept.code}`, side: 'debit', amount },
        { account_code: `2307.${dept.code}`, side: 'credit', amount },
      ],
    });
  expect(r.status).toBe(201);
  return approveEntry(h, r.body.id);
}

/** What the trial balance as of a date must say: each account's postings of entries dated on or before it, summed. */
async function sumsAsOf(fundId: string, asOf: string): Promise<Record<string, string>> {
  const { rows } = await h.db.raw(
    `SELECT a.code, coalesce(sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END) FILTER (WHERE e.entry_date <= ?), 0)::numeric(18,2)::text AS balance
       FROM accounts a LEFT JOIN postings p ON p.account_id = a.id LEFT JOIN journal_entries e ON e.id = p.entry_id
      WHERE a.fund_id = ? GROUP BY a.code`,
    [asOf, fundId],
  );
  return Object.fromEntries(rows.map((r: { code: string; balance: string }) => [r.code, r.balance]));
}

async function trialAsOf(fundId: string, asOf: string): Promise<Record<string, string>> {
  const r = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).query({ as_of: asOf }).set(auditor.auth);
  expect(r.status).toBe(200);
  // The signed balance on the account's normal side, as the sums above have it.
  return Object.fromEntries(
    r.body.accounts.map((a: { code: string; normal_side: string; debit: string; credit: string }) => {
      const [own, other] = a.normal_side === 'debit' ? [a.debit, a.credit] : [a.credit, a.debit];
      return [a.code, other !== '0.00' ? `-${other}` : own];
    }),
  );
}

describe('the trial balance as of a date', () => {
  it('equals the sum of postings dated up to that day, back-dated entries included', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, '2011-07-01', '100.00');
    await post(fundId, '2011-07-20', '40.00');
    // Back-dated into an open period, after later days already have balances.
    await post(fundId, '2011-07-10', '7.50');
    await post(fundId, '2011-07-01', '0.25');
    for (const asOf of ['2011-05-31', '2011-06-01', '2011-07-01', '2011-07-09', '2011-07-10', '2011-07-19', '2011-07-20', '2011-12-31']) {
      expect({ asOf, balances: await trialAsOf(fundId, asOf) }).toEqual({ asOf, balances: await sumsAsOf(fundId, asOf) });
    }
    const r = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).query({ as_of: '2011-07-15' }).set(auditor.auth);
    expect(r.body.accounts.find((a: { code: string }) => a.code === `2307.${dept.code}`)).toMatchObject({ credit: '107.75' });
    expect(r.body.books.financial.balanced).toBe(true);
  });

  it('stays right when one batch posts to the same accounts on several days, before, between and after days they already have', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, '2011-07-01', '100.00');
    await post(fundId, '2011-07-20', '40.00');
    const dates = ['2011-07-10', '2011-06-30', '2011-07-20', '2011-07-25', '2011-07-10', '2011-07-01', '2011-07-05'];
    const entries = dates.map((date, i) => ({
      date,
      memo: `batch ${i}`,
      postings: [
        { account_code: `5001.${dept.code}`, side: 'debit', amount: `${i + 1}.25` },
        { account_code: `2307.${dept.code}`, side: 'credit', amount: `${i + 1}.25` },
      ],
    }));
    const prepared = await h.api.post(`/api/v1/funds/${fundId}/journal-entries/batch`).set(accountant.auth).send({ entries });
    expect(prepared.status).toBe(201);
    const checker = await makeUser(h.db, 'accountant');
    const approved = await h.api.post(`/api/v1/journal-entry-batches/${prepared.body.id}/approve`).set(checker.auth).send({});
    expect(approved.status).toBe(200);
    for (const asOf of [
      '2011-06-29',
      '2011-06-30',
      '2011-07-01',
      '2011-07-04',
      '2011-07-05',
      '2011-07-10',
      '2011-07-19',
      '2011-07-20',
      '2011-07-25',
      '2011-12-31',
    ]) {
      expect({ asOf, balances: await trialAsOf(fundId, asOf) }).toEqual({ asOf, balances: await sumsAsOf(fundId, asOf) });
    }
    // The full verify recomputes every day balance from the postings: none missing, none extra, none wrong.
    const verify = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).query({ mode: 'full' }).set(auditor.auth);
    expect(verify.body).toMatchObject({ ok: true, problems: [] });
  });

  it('shows a contrary balance in the other column, now and as of a date, and the books still balance', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    const other = await makeDepartment(h.db);
    await post(fundId, '2011-07-01', '100.00');
    // Moved to another unit, 30.00 more than this unit's expense: 5001.d (debit-normal) ends 30.00 on the credit side.
    const r = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries`)
      .set(accountant.auth)
      .send({
        date: '2011-07-02',
        memo: 'correction',
        postings: [
          { account_code: `2307.${dept.code}`, side: 'debit', amount: '100.00' },
          { account_code: `5001.${dept.code}`, side: 'credit', amount: '130.00' },
          { account_code: `5001.${other.code}`, side: 'debit', amount: '130.00' },
          { account_code: `2307.${other.code}`, side: 'credit', amount: '100.00' },
        ],
      });
    expect(r.status).toBe(201);
    await approveEntry(h, r.body.id);
    for (const query of [{}, { as_of: '2011-07-02' }]) {
      const tb = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).query(query).set(auditor.auth);
      const line = (code: string) => tb.body.accounts.find((a: { code: string }) => a.code === code);
      expect(line(`5001.${dept.code}`)).toMatchObject({ debit: '0.00', credit: '30.00' });
      expect(line(`5001.${other.code}`)).toMatchObject({ debit: '130.00', credit: '0.00' });
      expect(line(`2307.${other.code}`)).toMatchObject({ debit: '0.00', credit: '100.00' });
      expect(tb.body.books.financial).toEqual({ debit: '1130.00', credit: '1130.00', balanced: true });
    }
    const before = await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).query({ as_of: '2011-07-01' }).set(auditor.auth);
    expect(before.body.accounts.find((a: { code: string }) => a.code === `5001.${dept.code}`)).toMatchObject({ debit: '100.00', credit: '0.00' });
  });

  it('cannot be written to by the pool: the day balances are the trigger’s alone', async () => {
    const account = await h.db('accounts').first('id');
    await expect(h.db('account_day_balances').insert({ account_id: account.id, day: '2011-01-01', balance: '1.00' })).rejects.toThrow(/permission denied/);
  });
});

describe('journal pages', () => {
  it('stay still while others post: the next page continues where the first ended, in date then seq order', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    for (const [date, amount] of [
      ['2011-07-01', '1.00'],
      ['2011-07-02', '2.00'],
      ['2011-07-03', '3.00'],
      ['2011-07-04', '4.00'],
    ] as const)
      await post(fundId, date, amount);
    const first = await h.api
      .get(`/api/v1/funds/${fundId}/journal`)
      .query({ limit: 2, account: `2307.${dept.code}` })
      .set(auditor.auth);
    expect(first.body.items.map((e: { date: string }) => e.date)).toEqual(['2011-07-04', '2011-07-03']);
    // Two more arrive: one newer than the whole first page, one back-dated among the rest.
    await post(fundId, '2011-07-05', '5.00');
    await post(fundId, '2011-07-02', '2.50', 'back-dated');
    const second = await h.api
      .get(`/api/v1/funds/${fundId}/journal`)
      .query({ limit: 2, account: `2307.${dept.code}`, cursor: first.body.next_cursor })
      .set(auditor.auth);
    expect(second.body.items.map((e: { date: string; memo: string }) => `${e.date} ${e.memo}`)).toEqual([
      '2011-07-02 back-dated',
      '2011-07-02 allocate on 2011-07-02',
    ]);
    const third = await h.api
      .get(`/api/v1/funds/${fundId}/journal`)
      .query({ limit: 2, account: `2307.${dept.code}`, cursor: second.body.next_cursor })
      .set(auditor.auth);
    expect(third.body).toMatchObject({ items: [expect.objectContaining({ date: '2011-07-01', kind: 'manual' })], next_cursor: null });
  });

  it('refuse a cursor of another list, a malformed cursor and a bad limit with problem documents', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    const cases: Array<[Record<string, string>, number]> = [
      [{ cursor: '999999999' }, 422],
      [{ cursor: 'abc' }, 422],
      [{ cursor: '-1' }, 422],
      [{ limit: '0' }, 422],
      [{ limit: '501' }, 422],
      [{ limit: 'ten' }, 422],
    ];
    for (const [query, status] of cases) {
      const r = await h.api.get(`/api/v1/funds/${fundId}/journal`).query(query).set(auditor.auth);
      expect({ query, status: r.status, type: r.headers['content-type'] }).toEqual({
        query,
        status,
        type: expect.stringContaining('application/problem+json'),
      });
    }
  });
});

describe('accounts and positions pages', () => {
  it('page the chart by code, naming the next page in Link and X-Next-Cursor, and refuse a foreign cursor', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    await post(fundId, '2011-07-01', '1.00');
    const all = await h.api.get(`/api/v1/funds/${fundId}/accounts`).set(auditor.auth);
    const codes = all.body.map((a: { code: string }) => a.code);
    expect(codes).toEqual([...codes].sort());
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await h.api
        .get(`/api/v1/funds/${fundId}/accounts`)
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(auditor.auth);
      expect(r.status).toBe(200);
      seen.push(...r.body.map((a: { code: string }) => a.code));
      cursor = r.headers['x-next-cursor'];
      if (!cursor) break;
      expect(r.headers.link).toBe(`</api/v1/funds/${fundId}/accounts?limit=2&cursor=${cursor}>; rel="next"`);
    }
    expect(seen).toEqual(codes);
    const other = await makeFund(h, accountant);
    const foreign = (await h.db('accounts').where({ fund_id: other }).first('id')).id;
    const r = await h.api
      .get(`/api/v1/funds/${fundId}/accounts`)
      .query({ cursor: String(foreign) })
      .set(auditor.auth);
    expect(r.status).toBe(422);
  });

  it('page positions by unit code', async () => {
    const fundId = await makeFund(h, accountant, '1000.00');
    const units = [dept, await makeDepartment(h.db), await makeDepartment(h.db)];
    for (const u of units) {
      const r = await h.api
        .post(`/api/v1/funds/${fundId}/journal-entries`)
        .set(accountant.auth)
        .send({
          date: '2011-07-01',
          memo: 'payable',
          postings: [
            { account_code: `5001.${u.code}`, side: 'debit', amount: '1.00' },
            { account_code: `2307.${u.code}`, side: 'credit', amount: '1.00' },
          ],
        });
      await approveEntry(h, r.body.id);
    }
    const first = await h.api.get(`/api/v1/funds/${fundId}/positions`).query({ limit: 2 }).set(auditor.auth);
    const second = await h.api.get(`/api/v1/funds/${fundId}/positions`).query({ limit: 2, cursor: first.body.next_cursor }).set(auditor.auth);
    const codes = [...first.body.items, ...second.body.items].map((p: { department_code: string }) => p.department_code);
    expect(codes).toEqual(units.map((u) => u.code).sort());
    expect(second.body.next_cursor).toBeNull();
  });
});

describe('idempotency keys expire', () => {
  it('a key older than its lifetime is purged, and until then a replay is answered only within it', async () => {
    const fundId = await makeFund(h, accountant);
    const body = { amount: '10.00', document_no: 'IDEM-1', date: '2011-06-01' };
    const first = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'retention-1').send(body);
    expect(first.status).toBe(201);
    const replay = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'retention-1').send(body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.id).toBe(first.body.id);
    // Eight days pass.
    await asOwner((owner) =>
      owner('idempotency_keys')
        .where({ user_id: accountant.id, key: 'retention-1' })
        .update({ created_at: owner.raw("now() - interval '8 days'") }),
    );
    // Before the purge runs, the expired key is claimed afresh: a new request, not a replay.
    const again = await h.api.post(`/api/v1/funds/${fundId}/appropriations`).set(accountant.auth).set('Idempotency-Key', 'retention-1').send(body);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body.id).not.toBe(first.body.id);
    await asOwner((owner) =>
      owner('idempotency_keys')
        .where({ user_id: accountant.id, key: 'retention-1' })
        .update({ created_at: owner.raw("now() - interval '8 days'") }),
    );
    const fresh = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(accountant.auth)
      .set('Idempotency-Key', 'retention-2')
      .send({ ...body, document_no: 'IDEM-2' });
    expect(fresh.status).toBe(201);
    expect(await purgeExpiredIdempotencyKeys(h.db, 7)).toBeGreaterThanOrEqual(1);
    const left = await h.db('idempotency_keys').where({ user_id: accountant.id }).pluck('key');
    expect(left).toEqual(['retention-2']);
  });
});
