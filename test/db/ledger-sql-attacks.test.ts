import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { entryHash } from '../../server/ledger/entry-hash.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { approveEntry, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Attacks on the books with direct SQL, as the table owner: the database itself must refuse.
 * Runs in a database of its own, because the last part tampers with rows on purpose.
 */
let url: string;
let h: Harness;
let accountant: TestUser;
let checker: TestUser;
let fundId: string;
let deptCode: string;

beforeAll(async () => {
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_attack');
  h = openHarness(url);
  accountant = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  deptCode = (await makeDepartment(h.db)).code;
  fundId = await makeFund(h, accountant, '1000.00');
  const r = await h.api
    .post(`/api/v1/funds/${fundId}/journal-entries`)
    .set(accountant.auth)
    .send({
      date: '2011-07-01',
      memo: 'allocate',
      postings: [
        { account_code: `5001.${deptCode}`, side: 'debit', amount: '400.00' },
        { account_code: `2307.${deptCode}`, side: 'credit', amount: '400.00' },
      ],
    });
  expect(r.status).toBe(201);
  await approveEntry(h, r.body.id, checker);
});
afterAll(async () => {
  await h.close();
  await dropDatabase(url);
});

interface RawPosting {
  code: string;
  side: 'debit' | 'credit';
  amount: string;
  balance_after?: string;
}

interface EntryOptions {
  reverses?: string;
  kind?: string;
  date?: string;
  /** null: no approver at all. */
  approvedBy?: string | null;
}

/** Writes an entry the way an attacker with SQL access would, linking it correctly into the chain. */
async function insertEntry(trx: Knex.Transaction, postings: RawPosting[], link: EntryOptions = {}) {
  const kind = link.kind ?? (link.reverses ? 'reversal' : 'appropriation');
  const reversesEntryId = link.reverses ?? null;
  const date = link.date ?? '2011-07-02';
  const approvedBy = link.approvedBy === undefined ? checker.id : link.approvedBy;
  const fund = await trx('funds').where({ id: fundId }).forUpdate().first();
  const seq = String(Number(fund.head_seq) + 1);
  const createdAt = new Date();
  const hash = entryHash(fund.head_hash, {
    fundId,
    seq,
    date,
    kind,
    memo: 'sql',
    documentNo: null,
    departmentId: null,
    reversesEntryId,
    createdBy: accountant.id,
    approvedBy,
    createdAt: createdAt.toISOString(),
    postings: postings.map((p) => ({ accountCode: p.code, side: p.side, amount: p.amount })),
  });
  const [entry] = await trx('journal_entries')
    .insert({
      fund_id: fundId,
      seq,
      entry_date: date,
      kind,
      memo: 'sql',
      reverses_entry_id: reversesEntryId,
      created_by: accountant.id,
      approved_by: approvedBy,
      created_at: createdAt,
      prev_hash: fund.head_hash,
      hash,
    })
    .returning('id');
  // All of an entry's postings in one statement, as the database requires.
  const rows = [];
  for (const p of postings) {
    const account = await trx('accounts').where({ fund_id: fundId, code: p.code }).first();
    const effect = p.side === account.normal_side ? Number(p.amount) : -Number(p.amount);
    rows.push({
      entry_id: entry.id,
      account_id: account.id,
      side: p.side,
      amount: p.amount,
      balance_after: p.balance_after ?? (Number(account.balance) + effect).toFixed(2),
    });
  }
  if (rows.length) await trx('postings').insert(rows);
  return String(entry.id);
}

const attempt = (work: (trx: Knex.Transaction) => Promise<unknown>) => h.db.transaction(work);
const snapshot = async () => ({
  entries: await h.db('journal_entries').count<{ n: string }[]>('* as n'),
  accounts: await h.db('accounts').orderBy('id').select('code', 'balance'),
  fund: await h.db('funds').where({ id: fundId }).first('head_seq', 'head_hash', 'appropriated', 'allocated'),
});

describe('the database refuses', () => {
  it('a correct entry written by hand is accepted (the attacks below fail for their own reason)', async () => {
    await attempt((trx) =>
      insertEntry(trx, [
        { code: '1011', side: 'debit', amount: '1.00' },
        { code: '4001', side: 'credit', amount: '1.00' },
      ]),
    );
  });

  it.each([
    ['UPDATE of a posting', 'UPDATE postings SET amount = amount + 1'],
    ['DELETE of a posting', 'DELETE FROM postings'],
    ['UPDATE of an entry', "UPDATE journal_entries SET memo = 'forged'"],
    ['DELETE of an entry', 'DELETE FROM journal_entries'],
    ['TRUNCATE of postings', 'TRUNCATE postings CASCADE'],
    ['TRUNCATE of entries', 'TRUNCATE journal_entries CASCADE'],
    ['TRUNCATE of accounts', 'TRUNCATE accounts CASCADE'],
    ['TRUNCATE of funds', 'TRUNCATE funds CASCADE'],
    ['a direct change of a balance', "UPDATE accounts SET balance = 99999 WHERE code = '1011'"],
    ['a direct change of the fund totals', 'UPDATE funds SET appropriated = 99999999'],
    ['a direct change of the chain head', "UPDATE funds SET head_hash = repeat('f', 64)"],
    ['DELETE of an account', "DELETE FROM accounts WHERE code = '6001'"],
  ])('%s', async (_name, sql) => {
    const before = await snapshot();
    await expect(h.db.raw(sql)).rejects.toThrow(/append-only|change only through postings/);
    expect(await snapshot()).toEqual(before);
  });

  it('an entry whose books do not balance (at commit)', async () => {
    await expect(
      attempt((trx) =>
        insertEntry(trx, [
          { code: '1011', side: 'debit', amount: '5.00' },
          { code: '4001', side: 'credit', amount: '4.99' },
        ]),
      ),
    ).rejects.toMatchObject({ constraint: 'entry_books_balance' });
  });

  it('an entry balanced across books but not within each', async () => {
    await expect(
      attempt((trx) =>
        insertEntry(trx, [
          { code: '1011', side: 'debit', amount: '5.00' },
          { code: '6001', side: 'credit', amount: '5.00' },
        ]),
      ),
    ).rejects.toMatchObject({ constraint: 'entry_books_balance' });
  });

  it('an entry with one posting, or none', async () => {
    await expect(attempt((trx) => insertEntry(trx, [{ code: '1011', side: 'debit', amount: '5.00' }]))).rejects.toMatchObject({
      constraint: 'entry_has_two_postings',
    });
    await expect(attempt((trx) => insertEntry(trx, []))).rejects.toMatchObject({ constraint: 'entry_has_two_postings' });
  });

  it.each([
    ['0', { constraint: 'posting_amount_range' }],
    ['-5.00', { constraint: 'posting_amount_range' }],
    ['NaN', { constraint: 'posting_amount_range' }],
    ['10000000000000', { constraint: 'posting_amount_range' }],
    // NUMERIC(18,2) cannot even hold it: numeric_value_out_of_range.
    ['Infinity', { code: '22003' }],
  ])('the amount %s', async (amount, refusal) => {
    const before = await snapshot();
    await expect(
      attempt((trx) =>
        insertEntry(trx, [
          { code: '1011', side: 'debit', amount, balance_after: '0' },
          { code: '4001', side: 'credit', amount, balance_after: '0' },
        ]),
      ),
    ).rejects.toMatchObject(refusal);
    expect(await snapshot()).toEqual(before);
  });

  it('a running balance that does not follow from the account balance', async () => {
    await expect(
      attempt((trx) =>
        insertEntry(trx, [
          { code: '1011', side: 'debit', amount: '5.00', balance_after: '5.00' },
          { code: '4001', side: 'credit', amount: '5.00' },
        ]),
      ),
    ).rejects.toMatchObject({ constraint: 'posting_running_balance' });
  });

  it('cash below zero', async () => {
    await expect(
      attempt((trx) =>
        insertEntry(trx, [
          { code: '1011', side: 'credit', amount: '1001.01' },
          { code: '4001', side: 'debit', amount: '1001.01' },
        ]),
      ),
    ).rejects.toMatchObject({ constraint: 'account_guarded_nonnegative' });
  });

  it("a department's payable below zero", async () => {
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: `2307.${deptCode}`, side: 'debit', amount: '400.01' },
            { code: '1011', side: 'credit', amount: '400.01' },
          ],
          { kind: 'manual' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'account_guarded_nonnegative' });
  });

  it('allocation beyond the appropriation', async () => {
    // `allocated` counts allocations (by kind), not the 5001 balance: the manual 400.00 of the setup is not in it.
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: `5001.${deptCode}`, side: 'debit', amount: '1001.01' },
            { code: `2307.${deptCode}`, side: 'credit', amount: '1001.01' },
          ],
          { kind: 'allocation' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'fund_allocated_within_appropriated' });
  });

  it('an entry without an approver, approved by its own preparer, or approved by someone who is not an accountant', async () => {
    const before = await snapshot();
    const allocation = [
      { code: `5001.${deptCode}`, side: 'debit' as const, amount: '1.00' },
      { code: `2307.${deptCode}`, side: 'credit' as const, amount: '1.00' },
    ];
    await expect(attempt((trx) => insertEntry(trx, allocation, { kind: 'manual', approvedBy: null }))).rejects.toMatchObject({
      constraint: 'journal_entries_four_eyes',
    });
    await expect(attempt((trx) => insertEntry(trx, allocation, { kind: 'manual', approvedBy: accountant.id }))).rejects.toMatchObject({
      constraint: 'journal_entries_four_eyes',
    });
    const auditor = await makeUser(h.db, 'auditor');
    await expect(attempt((trx) => insertEntry(trx, allocation, { kind: 'manual', approvedBy: auditor.id }))).rejects.toMatchObject({
      constraint: 'journal_entries_four_eyes',
    });
    expect(await snapshot()).toEqual(before);
  });

  it('a manual entry (or a reversal of one) that touches 4001 or 6001, which would move `appropriated`', async () => {
    const before = await snapshot();
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: `5001.${deptCode}`, side: 'debit', amount: '5000.00' },
            { code: '4001', side: 'credit', amount: '5000.00' },
          ],
          { kind: 'manual' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'appropriation_accounts_reserved' });
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: '8001', side: 'debit', amount: '1.00' },
            { code: '6001', side: 'credit', amount: '1.00' },
          ],
          { kind: 'allocation' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'appropriation_accounts_reserved' });
    const [manual] = await h.db('journal_entries').where({ fund_id: fundId, kind: 'manual' }).select('id');
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: '4001', side: 'debit', amount: '1.00' },
            { code: '1011', side: 'credit', amount: '1.00' },
          ],
          { reverses: String(manual.id) },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'appropriation_accounts_reserved' });
    expect(await snapshot()).toEqual(before);
  });

  it('an entry dated before the fund opened, after today, or outside the years a date may have', async () => {
    const before = await snapshot();
    const cash = [
      { code: '1011', side: 'debit' as const, amount: '1.00' },
      { code: '4001', side: 'credit' as const, amount: '1.00' },
    ];
    await expect(attempt((trx) => insertEntry(trx, cash, { date: '2010-12-31' }))).rejects.toMatchObject({ constraint: 'journal_entry_date_in_period' });
    const tomorrow = (await h.db.raw(`SELECT ((now() AT TIME ZONE 'Asia/Shanghai')::date + 1)::text AS d`)).rows[0].d;
    await expect(attempt((trx) => insertEntry(trx, cash, { date: tomorrow }))).rejects.toMatchObject({ constraint: 'journal_entry_date_in_period' });
    await expect(attempt((trx) => insertEntry(trx, cash, { date: '9999-12-31' }))).rejects.toMatchObject({ constraint: 'journal_entries_date_range' });
    expect(await snapshot()).toEqual(before);
  });

  it('a pending entry, a batch or a close edited or deleted after the fact', async () => {
    for (const sql of [
      "UPDATE pending_entries SET memo = 'forged'",
      'DELETE FROM pending_entries',
      "UPDATE pending_entries SET status = 'posted', decided_by = created_by",
      'TRUNCATE period_closes',
    ]) {
      await expect(h.db.raw(sql), sql).rejects.toThrow(/append-only|never edited|posted only with|check constraint/);
    }
  });

  it('an entry that skips a sequence number or does not link to the head', async () => {
    await expect(
      attempt(async (trx) => {
        const fund = await trx('funds').where({ id: fundId }).first();
        await trx('journal_entries').insert({
          fund_id: fundId,
          seq: Number(fund.head_seq) + 2,
          entry_date: '2011-07-02',
          kind: 'manual',
          created_by: accountant.id,
          approved_by: checker.id,
          created_at: new Date(),
          prev_hash: fund.head_hash,
          hash: 'a'.repeat(64),
        });
      }),
    ).rejects.toMatchObject({ constraint: 'journal_chain_contiguous' });
    await expect(
      attempt(async (trx) => {
        const fund = await trx('funds').where({ id: fundId }).first();
        await trx('journal_entries').insert({
          fund_id: fundId,
          seq: Number(fund.head_seq) + 1,
          entry_date: '2011-07-02',
          kind: 'manual',
          created_by: accountant.id,
          approved_by: checker.id,
          created_at: new Date(),
          prev_hash: 'b'.repeat(64),
          hash: 'a'.repeat(64),
        });
      }),
    ).rejects.toMatchObject({ constraint: 'journal_chain_contiguous' });
  });

  it('a posting added to an entry of an earlier transaction', async () => {
    const [old] = await h.db('journal_entries').where({ fund_id: fundId }).orderBy('seq').limit(1).select('id');
    const account = await h.db('accounts').where({ fund_id: fundId, code: '1011' }).first();
    await expect(
      h.db('postings').insert({ entry_id: old.id, account_id: account.id, side: 'debit', amount: '1.00', balance_after: '1.00' }),
    ).rejects.toMatchObject({ constraint: 'posting_entry_open' });
  });

  it('postings of one entry split over two statements', async () => {
    await expect(
      attempt(async (trx) => {
        const entryId = await insertEntry(trx, []);
        const cash = await trx('accounts').where({ fund_id: fundId, code: '1011' }).first();
        const revenue = await trx('accounts').where({ fund_id: fundId, code: '4001' }).first();
        await trx('postings').insert({
          entry_id: entryId,
          account_id: cash.id,
          side: 'debit',
          amount: '1.00',
          balance_after: (Number(cash.balance) + 1).toFixed(2),
        });
        await trx('postings').insert({
          entry_id: entryId,
          account_id: revenue.id,
          side: 'credit',
          amount: '1.00',
          balance_after: (Number(revenue.balance) + 1).toFixed(2),
        });
      }),
    ).rejects.toMatchObject({ constraint: 'entry_has_two_postings' });
  });

  it('a posting whose entry or account does not exist', async () => {
    const account = await h.db('accounts').where({ fund_id: fundId, code: '1011' }).first();
    await expect(
      h.db('postings').insert({ entry_id: '999999999', account_id: account.id, side: 'debit', amount: '1.00', balance_after: '1.00' }),
    ).rejects.toMatchObject({ constraint: 'posting_entry_open' });
    await expect(
      attempt(async (trx) => {
        const entryId = await insertEntry(trx, [
          { code: '1011', side: 'debit', amount: '1.00' },
          { code: '4001', side: 'credit', amount: '1.00' },
        ]);
        await trx('postings').insert({ entry_id: entryId, account_id: '999999999', side: 'debit', amount: '1.00', balance_after: '1.00' });
      }),
    ).rejects.toMatchObject({ constraint: 'posting_entry_open' });
  });

  it('a second reversal of the same entry', async () => {
    const [target] = await h.db('journal_entries').where({ fund_id: fundId, kind: 'appropriation' }).select('id');
    const reverse = (trx: Knex.Transaction) =>
      insertEntry(
        trx,
        [
          { code: '4001', side: 'debit', amount: '1.00' },
          { code: '1011', side: 'credit', amount: '1.00' },
        ],
        { reverses: String(target.id) },
      );
    await attempt(reverse);
    await expect(attempt(reverse)).rejects.toMatchObject({ constraint: 'journal_entries_reversed_once' });
  });
});

describe('figures by unit (invariant 10 per unit)', () => {
  it('refuses a payment beyond what the unit was allocated by kind, a refund beyond what it was paid, a clawback of what was paid, a manual entry raising 1011 or 8001', async () => {
    // The setup's 400.00 to deptCode is a manual entry: the unit was allocated nothing by kind.
    const other = (await makeDepartment(h.db)).code;
    // Its accounts opened by a manual entry through the API (which moves no figure).
    const opening = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries`)
      .set(accountant.auth)
      .send({
        date: '2011-07-01',
        memo: 'open',
        postings: [
          { account_code: `5001.${other}`, side: 'debit', amount: '1.00' },
          { account_code: `2307.${other}`, side: 'credit', amount: '1.00' },
          { account_code: `7101.${other}`, side: 'debit', amount: '1.00' },
          { account_code: `7101.${deptCode}`, side: 'debit', amount: '1.00' },
          { account_code: '8001', side: 'credit', amount: '2.00' },
        ],
      });
    expect(opening.status, JSON.stringify(opening.body)).toBe(201);
    await approveEntry(h, opening.body.id, checker);
    await attempt((trx) =>
      insertEntry(
        trx,
        [
          { code: `5001.${other}`, side: 'debit', amount: '100.00' },
          { code: `2307.${other}`, side: 'credit', amount: '100.00' },
        ],
        { kind: 'allocation' },
      ),
    );
    const payment = (code: string, amount: string, side: 'debit' | 'credit' = 'debit'): RawPosting[] => {
      const back = side === 'debit' ? 'credit' : 'debit';
      return [
        { code: `2307.${code}`, side, amount },
        { code: '1011', side: back, amount },
        { code: `7101.${code}`, side, amount },
        { code: '8001', side: back, amount },
      ];
    };
    await attempt((trx) => insertEntry(trx, payment(other, '50.00'), { kind: 'disbursement' }));
    const before = await snapshot();
    const units = async () => h.db('fund_unit_figures').where({ fund_id: fundId }).orderBy('department_id').select('department_id', 'allocated', 'disbursed');
    const unitsBefore = await units();
    await expect(attempt((trx) => insertEntry(trx, payment(deptCode, '10.00'), { kind: 'disbursement' }))).rejects.toMatchObject({
      constraint: 'unit_disbursed_within_allocated',
    });
    // Here the fund's figures break as well, and their CHECK is met first.
    await expect(attempt((trx) => insertEntry(trx, payment(other, '50.01'), { kind: 'disbursement' }))).rejects.toMatchObject({
      constraint: 'fund_disbursed_within_allocated',
    });
    await expect(attempt((trx) => insertEntry(trx, payment(deptCode, '10.00', 'credit'), { kind: 'refund' }))).rejects.toMatchObject({
      constraint: 'unit_disbursed_nonnegative',
    });
    await expect(attempt((trx) => insertEntry(trx, payment(other, '50.01', 'credit'), { kind: 'refund' }))).rejects.toMatchObject({
      constraint: 'fund_disbursed_within_allocated',
    });
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: `2307.${other}`, side: 'debit', amount: '50.01' },
            { code: `5001.${other}`, side: 'credit', amount: '50.01' },
          ],
          { kind: 'clawback' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'fund_disbursed_within_allocated' });
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: '1011', side: 'debit', amount: '1.00' },
            { code: `2307.${deptCode}`, side: 'credit', amount: '1.00' },
          ],
          { kind: 'manual' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'manual_entry_creates_no_quota' });
    await expect(
      attempt((trx) =>
        insertEntry(
          trx,
          [
            { code: '8001', side: 'debit', amount: '1.00' },
            { code: `7101.${deptCode}`, side: 'credit', amount: '1.00' },
          ],
          { kind: 'manual' },
        ),
      ),
    ).rejects.toMatchObject({ constraint: 'manual_entry_creates_no_quota' });
    expect(await snapshot()).toEqual(before);
    expect(await units()).toEqual(unitsBefore);
    expect(unitsBefore.find((u) => u.allocated === '100.00')).toMatchObject({ disbursed: '50.00' });
  });

  it('refuses a direct write of the unit figures', async () => {
    const dept = await h.db('departments').where({ code: deptCode }).first('id');
    for (const write of [
      () => h.db('fund_unit_figures').insert({ fund_id: fundId, department_id: dept.id, allocated: '999.00', disbursed: '0' }),
      () => h.db.raw('UPDATE fund_unit_figures SET allocated = allocated + 1'),
      () => h.db.raw('DELETE FROM fund_unit_figures'),
      () => h.db.raw('TRUNCATE fund_unit_figures'),
    ]) {
      await expect(write()).rejects.toThrow(/append-only|change only through postings/);
    }
  });

  it('are validated, so they hold for every row', async () => {
    const rows = await h
      .db('pg_constraint')
      .whereIn('conname', ['unit_disbursed_nonnegative', 'unit_disbursed_within_allocated', 'fund_disbursed_within_allocated'])
      .select('conname', 'convalidated');
    expect(rows.every((r) => r.convalidated)).toBe(true);
    expect(rows).toHaveLength(3);
  });
});

describe('the closed period', () => {
  it('refuses an entry dated on or before the closed-through date, and any direct change of that date or of a close', async () => {
    const close = await h.api.post(`/api/v1/funds/${fundId}/period-closes`).set(accountant.auth).send({ through: '2011-07-02' });
    expect(close.status).toBe(201);
    expect((await h.api.post(`/api/v1/period-closes/${close.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
    const before = await snapshot();
    const cash = [
      { code: '1011', side: 'debit' as const, amount: '1.00' },
      { code: '4001', side: 'credit' as const, amount: '1.00' },
    ];
    await expect(attempt((trx) => insertEntry(trx, cash, { date: '2011-07-02' }))).rejects.toMatchObject({ constraint: 'journal_entry_period_closed' });
    await expect(attempt((trx) => insertEntry(trx, cash, { date: '2011-06-01' }))).rejects.toMatchObject({ constraint: 'journal_entry_period_closed' });
    await expect(h.db.raw('UPDATE funds SET closed_through = NULL')).rejects.toThrow(/change only through postings/);
    await expect(h.db.raw("UPDATE period_closes SET through = '2011-01-01'")).rejects.toThrow(/never edited/);
    // A close approved by its own preparer, by SQL, is refused by the CHECK.
    const [pending] = await h.db('period_closes').insert({ fund_id: fundId, kind: 'close', through: '2011-07-03', created_by: accountant.id }).returning('id');
    const [statement] = await h.db('statements').where({ fund_id: fundId }).select('id');
    await expect(
      h
        .db('period_closes')
        .where({ id: pending.id })
        .update({ status: 'approved', decided_by: accountant.id, previous_through: '2011-07-02', certificate_id: statement.id }),
    ).rejects.toMatchObject({ constraint: 'period_closes_four_eyes' });
    expect(await snapshot()).toEqual(before);
    expect((await h.db('funds').where({ id: fundId }).first('closed_through')).closed_through).toBe('2011-07-02');
    await insertEntryOutside();
  });

  it('refuses a close inserted as approved, approved by a non-accountant, or with a certificate not its own', async () => {
    const before = await snapshot();
    const [certificate] = await h.db('period_closes').where({ fund_id: fundId, status: 'approved' }).pluck('certificate_id');
    await expect(
      h.db('period_closes').insert({
        fund_id: fundId,
        kind: 'close',
        through: '2011-07-05',
        created_by: accountant.id,
        status: 'approved',
        decided_by: checker.id,
        decided_at: new Date(),
        previous_through: '2011-07-02',
        certificate_id: certificate,
      }),
    ).rejects.toMatchObject({ constraint: 'period_closes_born_pending' });
    const auditor = await makeUser(h.db, 'auditor');
    await expect(h.db('period_closes').insert({ fund_id: fundId, kind: 'close', through: '2011-07-05', created_by: auditor.id })).rejects.toMatchObject({
      constraint: 'period_closes_accountants',
    });
    // The close the test above left pending (through 2011-07-03): a second pending one is refused too.
    const [pending] = await h.db('period_closes').where({ fund_id: fundId, status: 'pending' }).pluck('id');
    await expect(h.db('period_closes').insert({ fund_id: fundId, kind: 'close', through: '2011-07-05', created_by: accountant.id })).rejects.toMatchObject({
      constraint: 'period_closes_one_pending',
    });
    const approve = (fields: Record<string, unknown>) =>
      h
        .db('period_closes')
        .where({ id: pending })
        .update({ status: 'approved', decided_at: new Date(), previous_through: '2011-07-02', ...fields });
    await expect(approve({ decided_by: auditor.id, certificate_id: certificate })).rejects.toMatchObject({ constraint: 'period_closes_accountants' });
    await expect(approve({ decided_by: checker.id, certificate_id: certificate })).rejects.toMatchObject({ constraint: 'period_closes_certificate_once' });
    const [unrelated] = await h
      .db('statements')
      .insert({
        statement_no: `X-${Date.now()}`,
        fund_id: fundId,
        year: 2011,
        seq: 99999,
        kind: 'summary',
        content_hash: 'a'.repeat(64),
        head_seq: 0,
        head_hash: '0'.repeat(64),
        sha256: 'b'.repeat(64),
        size: 1,
        pdf: Buffer.from('x'),
        issued_by: checker.id,
        issued_at: new Date(),
      })
      .returning('id');
    await expect(approve({ decided_by: checker.id, certificate_id: unrelated.id })).rejects.toMatchObject({ constraint: 'period_closes_certificate_own' });
    expect(await snapshot()).toEqual(before);
    expect((await h.db('funds').where({ id: fundId }).first('closed_through')).closed_through).toBe('2011-07-02');
  });

  it('refuses a prepared entry or batch inserted as already posted', async () => {
    const postings = JSON.stringify([
      { account_code: '1011', side: 'debit', amount: '1.00' },
      { account_code: '4001', side: 'credit', amount: '1.00' },
    ]);
    await expect(
      h.db('pending_entries').insert({
        fund_id: fundId,
        kind: 'manual',
        entry_date: '2011-07-05',
        postings,
        created_by: accountant.id,
        status: 'posted',
        decided_by: checker.id,
        decided_at: new Date(),
      }),
    ).rejects.toMatchObject({ constraint: 'prepared_born_pending' });
    await expect(
      h
        .db('journal_entry_batches')
        .insert({ fund_id: fundId, entry_count: 1, created_by: accountant.id, status: 'posted', decided_by: checker.id, decided_at: new Date() }),
    ).rejects.toMatchObject({ constraint: 'prepared_born_pending' });
    expect(
      await h
        .db('pending_entries')
        .where({ fund_id: fundId, status: 'posted' })
        .whereNotExists(h.db('journal_entries as e').whereRaw('e.id = pending_entries.id')),
    ).toEqual([]);
  });
});

/** After the close, the open period still takes a correct entry. */
async function insertEntryOutside() {
  await attempt((trx) =>
    insertEntry(
      trx,
      [
        { code: '1011', side: 'debit', amount: '1.00' },
        { code: '4001', side: 'credit', amount: '1.00' },
      ],
      { date: '2011-07-03' },
    ),
  );
}

describe('verification finds what the triggers were bypassed for', () => {
  // Superuser-only: session_replication_role = replica disables the triggers for this session.
  const tamper = (sql: string, bindings: readonly Knex.RawBinding[] = []) =>
    h.db.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(sql, bindings);
    });
  const verify = async () => (await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(accountant.auth)).body;

  it('an inserted posting and a reordered pair of entries', async () => {
    const [first, second] = await h
      .db('journal_entries')
      .where({ fund_id: fundId })
      .whereIn('seq', [1, 3])
      .orderBy('seq')
      .select('id', 'seq', 'entry_date', 'memo');
    const cash = await h.db('accounts').where({ fund_id: fundId, code: '1011' }).first('id');
    await tamper("INSERT INTO postings (entry_id, account_id, side, amount, balance_after) VALUES (?, ?, 'debit', 0.01, 0.01)", [second.id, cash.id]);
    expect(await verify()).toMatchObject({ ok: false, first_bad_seq: 3 });
    await tamper('DELETE FROM postings WHERE entry_id = ? AND amount = 0.01', [second.id]);
    // Swap what two entries say while keeping their hashes: the chain breaks at the earlier one.
    await tamper('UPDATE journal_entries SET memo = ? WHERE id = ?', [second.memo, first.id]);
    await tamper('UPDATE journal_entries SET memo = ? WHERE id = ?', [first.memo, second.id]);
    expect(await verify()).toMatchObject({ ok: false, first_bad_seq: 1 });
    await tamper('UPDATE journal_entries SET memo = ? WHERE id = ?', [first.memo, first.id]);
    await tamper('UPDATE journal_entries SET memo = ? WHERE id = ?', [second.memo, second.id]);
    expect((await verify()).ok).toBe(true);
  });

  it('a changed amount, then a deleted entry, each named by its sequence number', async () => {
    expect((await verify()).ok).toBe(true);
    const [third] = await h.db('journal_entries').where({ fund_id: fundId, seq: 3 }).select('id');
    await tamper(`UPDATE postings SET amount = amount + 0.01 WHERE entry_id = ? AND side = 'debit'`, [third.id]);
    const changed = await verify();
    expect(changed).toMatchObject({ ok: false, first_bad_seq: 3 });
    await tamper(`UPDATE postings SET amount = amount - 0.01 WHERE entry_id = ? AND side = 'debit'`, [third.id]);
    expect((await verify()).ok).toBe(true);

    const [second] = await h.db('journal_entries').where({ fund_id: fundId, seq: 2 }).select('id');
    await tamper('DELETE FROM postings WHERE entry_id = ?', [second.id]);
    await tamper('DELETE FROM journal_entries WHERE id = ?', [second.id]);
    const deleted = await verify();
    expect(deleted).toMatchObject({ ok: false, first_bad_seq: 2 });
  });

  it('a stored balance that no longer equals its postings', async () => {
    await tamper("UPDATE accounts SET balance = balance + 1 WHERE fund_id = ? AND code = '4001'", [fundId]);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'account_balance', account: '4001' }));
  });
});

describe('the constraints of internal control', () => {
  it('are validated, so they hold for every row and not only for new ones', async () => {
    const rows = await h
      .db('pg_constraint')
      .whereIn('conname', ['journal_entries_four_eyes', 'journal_entries_date_range', 'disbursements_maker_checker'])
      .select('conname', 'convalidated');
    expect(Object.fromEntries(rows.map((r) => [r.conname, r.convalidated]))).toEqual({
      journal_entries_four_eyes: true,
      journal_entries_date_range: true,
      disbursements_maker_checker: true,
    });
  });
});
