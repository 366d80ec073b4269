import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { verifyLedger } from '../../server/ledger/verify/verify-ledger.ts';
import { startWitness } from '../../server/ledger/witness.ts';
import { createMigratedDatabase, dropDatabase, poolUrlFor } from '../support/databases.ts';
import { approveEntry, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser } from '../support/pdf-text.ts';

/*
 * The probe's edits, made as the database owner with the triggers switched off
 * (session_replication_role = replica): verify must name every one. Its own database, as it tampers.
 * The service runs as the pool role, as in production.
 */
let ownerUrl: string;
let owner: Knex;
let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let deptCode: string;
let poolUrl: string;

beforeAll(async () => {
  ownerUrl = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_tamper');
  owner = createKnex(ownerUrl, 2, 60_000, 'jiangbu-owner');
  poolUrl = await poolUrlFor(ownerUrl);
  h = openHarness(poolUrl);
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
const verify = async (fundId: string) => (await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth)).body;
const kinds = (report: { problems: Array<{ kind: string }> }) => report.problems.map((p) => p.kind);

/** A fund with an appropriation and three more entries (seq 1–4). */
async function fundWithEntries(): Promise<string> {
  const fundId = await makeFund(h, accountant, '1000.00');
  for (const amount of ['100.00', '50.00', '25.00']) {
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
  expect(await verify(fundId)).toMatchObject({ ok: true, entries: 4, first_bad_seq: null, problems: [] });
  return fundId;
}

const entryId = async (fundId: string, seq: number) => (await owner('journal_entries').where({ fund_id: fundId, seq }).first('id')).id;

describe('verify names every edit the probe made as the database owner', () => {
  it('a tail cut with the head rewound, past a statement that recorded that head: named, and the statement is no longer genuine', async () => {
    const fundId = await fundWithEntries();
    const statement = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    expect(statement.status).toBe(200);
    const before = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', statement.body, 's.pdf');
    expect(before.body.genuine).toBe(true);
    const last = await entryId(fundId, 4);
    const third = await owner('journal_entries').where({ fund_id: fundId, seq: 3 }).first('hash');
    await tamper('DELETE FROM postings WHERE entry_id = ?', [last]);
    await tamper('DELETE FROM journal_entries WHERE id = ?', [last]);
    await tamper('UPDATE funds SET head_seq = 3, head_hash = ? WHERE id = ?', [third.hash, fundId]);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'anchor_beyond_head', seq: 4 }));
    const after = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', statement.body, 's.pdf');
    expect(after.body).toMatchObject({ genuine: false, statement_no: statement.headers['x-statement-no'] });
    expect(after.body.problem).toContain('第 4 号凭证');
  });

  it('the same cut with the database anchors deleted too: the witness file outside the database still names it', async () => {
    const fundId = await fundWithEntries();
    const witness = startWitness(h.db, h.witnessFile, { warn: () => undefined }, 3_600_000);
    await witness.tick();
    witness.stop();
    const last = await entryId(fundId, 4);
    const third = await owner('journal_entries').where({ fund_id: fundId, seq: 3 }).first('hash');
    await tamper('DELETE FROM postings WHERE entry_id = ?', [last]);
    await tamper('DELETE FROM journal_entries WHERE id = ?', [last]);
    await tamper('DELETE FROM ledger_anchors WHERE fund_id = ?', [fundId]);
    await tamper('UPDATE funds SET head_seq = 3, head_hash = ? WHERE id = ?', [third.hash, fundId]);
    const report = await verify(fundId);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'anchor_beyond_head', seq: 4 }));
    expect(report.problems.find((p: { kind: string }) => p.kind === 'anchor_beyond_head').detail).toContain('witness');
  });

  it("a posting's balance_after", async () => {
    const fundId = await fundWithEntries();
    await tamper("UPDATE postings SET balance_after = balance_after + 7 WHERE entry_id = ? AND side = 'credit'", [await entryId(fundId, 3)]);
    const report = await verify(fundId);
    expect(report).toMatchObject({ ok: false, first_bad_seq: 3 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'balance_after', seq: 3, account: `2307.${deptCode}` })]);
  });

  it('appropriated raised by 5,000 in the fund row', async () => {
    const fundId = await fundWithEntries();
    await tamper('UPDATE funds SET appropriated = appropriated + 5000 WHERE id = ?', [fundId]);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'fund_figure' })]);
    expect(report.problems[0].detail).toContain('6000.00');
    expect(report.problems[0].detail).toContain('1000.00');
  });

  it('a unit figure written past the triggers (fund_unit_figures, migration 010)', async () => {
    const fundId = await fundWithEntries();
    // The setup's entries are manual: they move no figure, so a unit with 300.00 allocated is a forgery.
    await tamper('INSERT INTO fund_unit_figures (fund_id, department_id, allocated, disbursed) SELECT ?, id, 300, 0 FROM departments WHERE code = ?', [
      fundId,
      deptCode,
    ]);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(['unit_figure']);
    expect(report.problems[0].detail).toContain('300.00');
  });

  it('allocated and a stored balance changed', async () => {
    const fundId = await fundWithEntries();
    // Raised, not lowered: allocated below disbursed (here 0) is refused by a CHECK even past the triggers (010).
    await tamper('UPDATE funds SET allocated = allocated + 25 WHERE id = ?', [fundId]);
    await tamper("UPDATE accounts SET balance = balance + 1 WHERE fund_id = ? AND code = '1011'", [fundId]);
    const report = await verify(fundId);
    expect(kinds(report).sort()).toEqual(['account_balance', 'fund_figure']);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'account_balance', account: '1011' }));
  });

  it('a changed amount (both postings, so the books still balance)', async () => {
    const fundId = await fundWithEntries();
    await tamper('UPDATE postings SET amount = amount + 1, balance_after = balance_after + 1 WHERE entry_id = ?', [await entryId(fundId, 2)]);
    const report = await verify(fundId);
    expect(report.first_bad_seq).toBe(2);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'entry_hash', seq: 2 }));
  });

  it('a deleted entry in the middle, named by its number', async () => {
    const fundId = await fundWithEntries();
    const second = await entryId(fundId, 2);
    await tamper('DELETE FROM postings WHERE entry_id = ?', [second]);
    await tamper('DELETE FROM journal_entries WHERE id = ?', [second]);
    const report = await verify(fundId);
    expect(report.first_bad_seq).toBe(2);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'missing_entry', seq: 2 }));
  });

  it('a whole chain rewritten consistently from an edited entry: the anchors name it', async () => {
    const fundId = await fundWithEntries();
    const statement = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    expect(statement.status).toBe(200);
    // The owner edits entry 2's memo and recomputes every hash after it, as a careful forger would.
    await tamper("UPDATE journal_entries SET memo = 'forged' WHERE fund_id = ? AND seq = 2", [fundId]);
    const { entryHash } = await import('../../server/ledger/entry-hash.ts');
    const rows = await owner('journal_entries').where({ fund_id: fundId }).orderBy('seq');
    let prev = '0'.repeat(64);
    for (const e of rows) {
      const postings = await owner('postings as p')
        .join('accounts as a', 'a.id', 'p.account_id')
        .where('p.entry_id', e.id)
        .orderBy('p.id')
        .select('a.code', 'p.side', 'p.amount');
      const hash = entryHash(prev, {
        fundId: String(e.fund_id),
        seq: String(e.seq),
        date: e.entry_date,
        kind: e.kind,
        memo: e.memo,
        documentNo: e.document_no,
        departmentId: e.department_id == null ? null : String(e.department_id),
        reversesEntryId: e.reverses_entry_id == null ? null : String(e.reverses_entry_id),
        createdBy: String(e.created_by),
        createdAt: (e.created_at as Date).toISOString(),
        postings: postings.map((p) => ({ accountCode: p.code, side: p.side, amount: p.amount })),
      });
      await tamper('UPDATE journal_entries SET prev_hash = ?, hash = ? WHERE id = ?', [prev, hash, e.id]);
      prev = hash;
    }
    await tamper('UPDATE funds SET head_hash = ? WHERE id = ?', [prev, fundId]);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(expect.arrayContaining(['anchor_mismatch']));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'anchor_mismatch', seq: 4 }));
    const check = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', statement.body, 's.pdf');
    expect(check.body.genuine).toBe(false);
  });

  it('a changed ledger_identity does not hide the witness: its lines still anchor, and the change is named', async () => {
    const fundId = await fundWithEntries();
    const statement = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    expect(statement.status).toBe(200);
    const last = await entryId(fundId, 4);
    const third = await owner('journal_entries').where({ fund_id: fundId, seq: 3 }).first('hash');
    await tamper('DELETE FROM postings WHERE entry_id = ?', [last]);
    await tamper('DELETE FROM journal_entries WHERE id = ?', [last]);
    await tamper('DELETE FROM ledger_anchors WHERE fund_id = ?', [fundId]);
    await tamper('DELETE FROM statement_downloads WHERE statement_id IN (SELECT id FROM statements WHERE fund_id = ?)', [fundId]);
    await tamper('DELETE FROM statements WHERE fund_id = ?', [fundId]);
    await tamper('UPDATE funds SET head_seq = 3, head_hash = ? WHERE id = ?', [third.hash, fundId]);
    const identity = (await owner('ledger_identity').first('id')).id;
    await tamper('UPDATE ledger_identity SET id = gen_random_uuid()');
    try {
      const report = await verify(fundId);
      expect(report.ok).toBe(false);
      expect(kinds(report)).toEqual(expect.arrayContaining(['witness_ledger', 'anchor_beyond_head']));
    } finally {
      await tamper('UPDATE ledger_identity SET id = ?', [identity]);
    }
  });

  it('an emptied witness file is named for a fund that has anchors in the database', async () => {
    const fundId = await fundWithEntries();
    const statement = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    expect(statement.status).toBe(200);
    expect((await verify(fundId)).ok).toBe(true);
    const { truncate } = await import('node:fs/promises');
    await truncate(h.witnessFile, 0);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'witness_missing' }));
  });

  it('a statement row the pool login inserts for any PDF does not make it genuine: the witness has no line for it', async () => {
    const fundId = await fundWithEntries();
    const real = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    const fake = Buffer.from('%PDF-1.4 forged statement');
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(fake).digest('hex');
    await h.db.raw(
      `INSERT INTO statements (statement_no, fund_id, year, seq, kind, department_id, content_hash, head_seq, head_hash, sha256, size, pdf, issued_by, issued_at)
      SELECT statement_no || '-F', fund_id, year, seq + 1000, kind, department_id, ?, head_seq, head_hash, ?, ?, ?, issued_by, now() FROM statements WHERE statement_no = ?`,
      [digest, digest, fake.length, fake, String(real.headers['x-statement-no'])],
    );
    const check = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', fake, 'f.pdf');
    expect(check.body).toMatchObject({ genuine: false, statement_no: `${real.headers['x-statement-no']}-F` });
    expect(check.body.problem).toContain('见证文件中没有');
  });

  it('a consistent chain rewrite with the statement rows rewritten too: the earlier real statement is not genuine (the witness disagrees)', async () => {
    const fundId = await fundWithEntries();
    const statement = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    expect((await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', statement.body, 's.pdf')).body.genuine).toBe(true);
    const { entryHash } = await import('../../server/ledger/entry-hash.ts');
    await tamper("UPDATE journal_entries SET memo = 'forged' WHERE fund_id = ? AND seq = 2", [fundId]);
    const rows = await owner('journal_entries').where({ fund_id: fundId }).orderBy('seq');
    let prev = '0'.repeat(64);
    for (const e of rows) {
      const postings = await owner('postings as p')
        .join('accounts as a', 'a.id', 'p.account_id')
        .where('p.entry_id', e.id)
        .orderBy('p.id')
        .select('a.code', 'p.side', 'p.amount');
      const hash = entryHash(prev, {
        fundId: String(e.fund_id),
        seq: String(e.seq),
        date: e.entry_date,
        kind: e.kind,
        memo: e.memo,
        documentNo: e.document_no,
        departmentId: e.department_id == null ? null : String(e.department_id),
        reversesEntryId: e.reverses_entry_id == null ? null : String(e.reverses_entry_id),
        createdBy: String(e.created_by),
        createdAt: (e.created_at as Date).toISOString(),
        postings: postings.map((p) => ({ accountCode: p.code, side: p.side, amount: p.amount })),
      });
      await tamper('UPDATE journal_entries SET prev_hash = ?, hash = ? WHERE id = ?', [prev, hash, e.id]);
      prev = hash;
    }
    await tamper('UPDATE funds SET head_hash = ? WHERE id = ?', [prev, fundId]);
    await tamper('UPDATE statements SET head_hash = ? WHERE fund_id = ?', [prev, fundId]);
    await tamper('UPDATE ledger_anchors SET hash = ? WHERE fund_id = ?', [prev, fundId]);
    const check = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', statement.body, 's.pdf');
    expect(check.body.genuine).toBe(false);
    expect(check.body.problem).toContain('见证文件记载');
  });

  it('a statement over a ledger that no longer verifies below its head says so', async () => {
    const fundId = await fundWithEntries();
    const statement = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth).buffer(true).parse(binaryParser);
    await tamper("UPDATE postings SET balance_after = balance_after + 7 WHERE entry_id = ? AND side = 'credit'", [await entryId(fundId, 2)]);
    const check = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', statement.body, 's.pdf');
    expect(check.body.genuine).toBe(false);
    expect(check.body.problem).toContain('已不能通过核验');
    expect(check.body.problem).toContain('第 2 号凭证');
  });

  it('a stored posting_count, and a head moved past the chain: named, with first_bad_seq inside the chain', async () => {
    const fundId = await fundWithEntries();
    await tamper("UPDATE accounts SET posting_count = posting_count + 3 WHERE fund_id = ? AND code = '1011'", [fundId]);
    await tamper('UPDATE funds SET head_seq = head_seq + 5 WHERE id = ?', [fundId]);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'posting_count', account: '1011' }));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'head' }));
    expect(report.first_bad_seq === null || report.first_bad_seq <= report.entries).toBe(true);
  });
});

describe('verify checks the day balances the as-of trial balance reads (account_day_balances, migration 013)', () => {
  const dayRow = async (fundId: string, code: string) =>
    owner('account_day_balances as b')
      .join('accounts as a', 'a.id', 'b.account_id')
      .where({ 'a.fund_id': fundId, 'a.code': code })
      .select('b.account_id', owner.raw('b.day::text AS day'), 'b.balance');
  const trialLine = async (fundId: string, asOf: string, code: string) =>
    (await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).query({ as_of: asOf }).set(auditor.auth)).body.accounts.find(
      (a: { code: string }) => a.code === code,
    );

  it('a day balance raised: named with its account, day, stored and recomputed balance — the as-of report it misstated is that row', async () => {
    const fundId = await fundWithEntries();
    const code = `2307.${deptCode}`;
    expect(await dayRow(fundId, code)).toEqual([expect.objectContaining({ day: '2011-07-01', balance: '175.00' })]);
    // A later entry: a trial balance as of a day between the two reads the day balance (as of the fund's
    // last entry or after, it reads the account's stored balance).
    const later = await h.api
      .post(`/api/v1/funds/${fundId}/journal-entries`)
      .set(accountant.auth)
      .send({
        date: '2011-08-01',
        memo: 'allocate 1.00',
        postings: [
          { account_code: `5001.${deptCode}`, side: 'debit', amount: '1.00' },
          { account_code: code, side: 'credit', amount: '1.00' },
        ],
      });
    await approveEntry(h, later.body.id);
    await tamper(
      "UPDATE account_day_balances b SET balance = b.balance + 900 FROM accounts a WHERE a.id = b.account_id AND a.fund_id = ? AND a.code = ? AND b.day = '2011-07-01'",
      [fundId, code],
    );
    // What a reader of the as-of trial balance now sees, while the journal itself is untouched.
    expect(await trialLine(fundId, '2011-07-31', code)).toMatchObject({ credit: '1075.00' });
    const report = await verify(fundId);
    expect(report).toMatchObject({ ok: false, first_bad_seq: null });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'day_balance', account: code, day: '2011-07-01' })]);
    expect(report.problems[0].detail).toContain('1075.00');
    expect(report.problems[0].detail).toContain('175.00');
  });

  it('a service whose pool has no second connection to spare checks them too, in the verify’s own transaction', async () => {
    const fundId = await fundWithEntries();
    await tamper("UPDATE account_day_balances b SET balance = b.balance - 1 FROM accounts a WHERE a.id = b.account_id AND a.fund_id = ? AND a.code = '4001'", [
      fundId,
    ]);
    const single = createKnex(poolUrl, 1, 60_000);
    try {
      const report = await verifyLedger(single, fundId, h.witnessFile);
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'day_balance', account: '4001', day: '2011-06-01' })]);
    } finally {
      await single.destroy();
    }
  });

  it('a day balance deleted, and one forged for a day without postings: both named', async () => {
    const fundId = await fundWithEntries();
    const [cash] = await dayRow(fundId, '1011');
    await tamper('DELETE FROM account_day_balances WHERE account_id = ? AND day = ?', [cash.account_id, cash.day]);
    const [revenue] = await dayRow(fundId, '4001');
    await tamper("INSERT INTO account_day_balances (account_id, day, balance) VALUES (?, '2011-06-15', 0)", [revenue.account_id]);
    const report = await verify(fundId);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'day_balance', account: '1011', day: '2011-06-01', detail: expect.stringContaining('缺失') }),
      expect.objectContaining({ kind: 'day_balance', account: '4001', day: '2011-06-15', detail: expect.stringContaining('没有分录') }),
    ]);
  });
});
