import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';

/* Periods and closing (结账, 反结账): DESIGN.md "Internal control", invariant 9. */
let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

const allocation = (code: string, amount: string, date: string) => ({
  date,
  memo: '调整',
  postings: [
    { account_code: `5001.${code}`, side: 'debit', amount },
    { account_code: `2307.${code}`, side: 'credit', amount },
  ],
});
const prepareEntry = (fundId: string, body: object) => h.api.post(`/api/v1/funds/${fundId}/journal-entries`).set(maker.auth).send(body);
const approveEntry = (id: string) => h.api.post(`/api/v1/journal-entries/${id}/approve`).set(checker.auth).send({});
const prepareClose = (fundId: string, body: object, by: TestUser = maker) => h.api.post(`/api/v1/funds/${fundId}/period-closes`).set(by.auth).send(body);
const approveClose = (id: string, by: TestUser = checker) => h.api.post(`/api/v1/period-closes/${id}/approve`).set(by.auth).send({});
const certificate = (id: string) => h.api.get(`/api/v1/period-closes/${id}/certificate.pdf`).set(auditor.auth).buffer(true).parse(binaryParser);

async function closedFund() {
  const d = await makeDepartment(h.db);
  const fundId = await makeFund(h, maker, '1000.00');
  expect((await approveEntry((await prepareEntry(fundId, allocation(d.code, '100.00', '2011-07-15'))).body.id)).status).toBe(200);
  const close = await prepareClose(fundId, { through: '2011-07-31' });
  expect(close.status).toBe(201);
  const approved = await approveClose(close.body.id);
  expect(approved.status).toBe(200);
  return { d, fundId, closeId: String(close.body.id), approved: approved.body };
}

describe('closing a period', () => {
  it('takes a second accountant, shows closed_through on the fund, and issues a certificate that verifies as a statement', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '1000.00');
    await approveEntry((await prepareEntry(fundId, allocation(d.code, '100.00', '2011-07-15'))).body.id);
    const close = await prepareClose(fundId, { through: '2011-07-31' });
    expect(close.body).toMatchObject({ status: 'pending', kind: 'close', through: '2011-07-31', created_by: maker.id });
    expect((await approveClose(close.body.id, maker)).status).toBe(403);
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body.closed_through).toBeNull();
    const approved = await approveClose(close.body.id);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ closed_through: '2011-07-31', certificate_no: expect.stringMatching(/-\d{5}$/) });
    expect((await approveClose(close.body.id)).body.code).toBe('ALREADY_DECIDED');
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body).toMatchObject({ closed_through: '2011-07-31' });

    const pdf = await certificate(close.body.id);
    expect(pdf.status).toBe(200);
    expect(pdf.headers['x-statement-no']).toBe(approved.body.certificate_no);
    const text = (await pdfText(pdf.body)).join('\n');
    for (const expected of ['结账单', '2011年7月31日', '1,000.00', maker.username, checker.username, '期间内凭证', '2 张']) expect(text).toContain(expected);
    const verified = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', pdf.body, 'close.pdf');
    expect(verified.body).toMatchObject({ genuine: true, statement_no: approved.body.certificate_no, kind: 'period_close' });
  });

  it('refuses every posting dated on or before the closed-through date, while the open period still posts', async () => {
    const { d, fundId } = await closedFund();
    const inside = await prepareEntry(fundId, allocation(d.code, '1.00', '2011-07-31'));
    expect(inside.status).toBe(409);
    expect(inside.body.code).toBe('PERIOD_CLOSED');
    const appropriation = await h.api
      .post(`/api/v1/funds/${fundId}/appropriations`)
      .set(maker.auth)
      .send({ amount: '1.00', document_no: 'late', date: '2011-06-01' });
    expect(appropriation.body.code).toBe('PERIOD_CLOSED');
    const after = await prepareEntry(fundId, allocation(d.code, '1.00', '2011-08-01'));
    expect(after.status).toBe(201);
    expect((await approveEntry(after.body.id)).status).toBe(200);
  });

  it('dates the reversal of an entry in a closed period in the open period', async () => {
    const { fundId } = await closedFund();
    const target = await h.db('journal_entries').where({ fund_id: fundId, kind: 'manual' }).first('id');
    expect((await h.api.post(`/api/v1/journal-entries/${target.id}/reversal`).set(maker.auth).send({ date: '2011-07-31' })).body.code).toBe('PERIOD_CLOSED');
    const reversal = await h.api.post(`/api/v1/journal-entries/${target.id}/reversal`).set(maker.auth).send({});
    expect(reversal.status).toBe(201);
    expect(reversal.body.date > '2011-07-31').toBe(true);
    expect((await approveEntry(reversal.body.id)).status).toBe(200);
  });

  it('refuses a close while an entry dated inside it waits for approval, naming it', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '1000.00');
    const early = await prepareEntry(fundId, allocation(d.code, '1.00', '2011-08-10'));
    const close = await prepareClose(fundId, { through: '2011-07-31' });
    await approveClose(close.body.id);
    // Closing later than a waiting entry is refused, naming it.
    const blocked = await prepareClose(fundId, { through: '2011-08-31' });
    expect(blocked.status).toBe(409);
    expect(blocked.body.code).toBe('PENDING_IN_PERIOD');
    expect(blocked.body.detail).toContain(`凭证 ${early.body.id}`);
    expect((await approveEntry(early.body.id)).status).toBe(200);
    expect((await prepareClose(fundId, { through: '2011-08-31' })).status).toBe(201);
  });

  it('reopens to an earlier date only with a reason and another approver, and lists the reopen on the next certificate', async () => {
    const { d, fundId } = await closedFund();
    const noReason = await prepareClose(fundId, { through: '2011-06-30' });
    expect(noReason.status).toBe(422);
    expect(noReason.body.errors[0].field).toBe('reason');
    const reopen = await prepareClose(fundId, { through: '2011-06-30', reason: '补记七月漏记凭证' });
    expect(reopen.body).toMatchObject({ kind: 'reopen', status: 'pending' });
    expect((await approveClose(reopen.body.id, maker)).status).toBe(403);
    const reopened = await approveClose(reopen.body.id);
    expect(reopened.body).toMatchObject({ closed_through: '2011-06-30', previous_through: '2011-07-31' });
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body.closed_through).toBe('2011-06-30');
    expect((await approveEntry((await prepareEntry(fundId, allocation(d.code, '2.00', '2011-07-20'))).body.id)).status).toBe(200);
    const again = await prepareClose(fundId, { through: '2011-07-31' });
    const closed = await approveClose(again.body.id);
    expect(closed.body.closed_through).toBe('2011-07-31');
    const text = (await pdfText((await certificate(again.body.id)).body)).join('\n');
    expect(text).toContain('补记七月漏记凭证');
    // The reopen is listed under its day in China (from 16:00 UTC that is already the next day).
    const decidedAt = (await h.db('period_closes').where({ id: reopen.body.id }).first('decided_at')).decided_at as Date;
    const shanghaiDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(decidedAt);
    expect(text.replace(/\s+/g, '')).toContain(shanghaiDay);
    // The first certificate is genuine but replaced: it names the fund's newest one.
    const first = await h
      .db('period_closes as c')
      .join('statements as s', 's.id', 'c.certificate_id')
      .where({ 'c.fund_id': fundId, 'c.kind': 'close' })
      .orderBy('c.id')
      .first('s.pdf', 's.statement_no');
    const checked = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', first.pdf, 'close.pdf');
    expect(checked.body).toMatchObject({ genuine: true, statement_no: first.statement_no, superseded_by: closed.body.certificate_no });
    const newest = await h.api
      .post('/api/v1/statements/verify')
      .set(auditor.auth)
      .attach('file', (await certificate(again.body.id)).body, 'close.pdf');
    expect(newest.body).toMatchObject({ genuine: true, statement_no: closed.body.certificate_no, superseded_by: null });
    const list = await h.api.get(`/api/v1/funds/${fundId}/period-closes`).set(auditor.auth);
    expect(list.body.items.map((c: { kind: string; status: string }) => `${c.kind}:${c.status}`)).toEqual([
      'close:approved',
      'reopen:approved',
      'close:approved',
    ]);
  });

  it('refuses a close after today, before the fund opened, twice to the same date, or while another waits', async () => {
    const { fundId } = await closedFund();
    expect((await prepareClose(fundId, { through: '2999-01-01' })).status).toBe(422);
    expect((await prepareClose(fundId, { through: '2011-07-31' })).body.code).toBe('CONFLICT');
    const other = await makeFund(h, maker);
    expect((await prepareClose(other, { through: '2010-12-31' })).status).toBe(422);
    expect((await prepareClose(fundId, { through: '2011-08-31' })).status).toBe(201);
    expect((await prepareClose(fundId, { through: '2011-09-30' })).body.code).toBe('CONFLICT');
  });

  it('keeps one pending close per fund when ten are prepared at once', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => prepareClose(fundId, { through: `2011-07-${String(i + 10)}` }, i % 2 ? maker : checker)),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'CONFLICT' && /待审核/.test(r.body.detail))).toBe(true);
    expect(await h.db('period_closes').where({ fund_id: fundId, status: 'pending' }).count<{ n: string }[]>('* as n')).toEqual([{ n: '1' }]);
  });

  it('makes a draft run dated inside the closed period stale: it cannot be approved (409 RUN_STALE)', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    expect(
      (
        await h.api
          .put(`/api/v1/funds/${fundId}/policy`)
          .set(maker.auth)
          .send({ rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, licence_caps: {}, require_completed: false })
      ).status,
    ).toBe(201);
    const inside = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-07-31' });
    expect(inside.status).toBe(201);
    const close = await prepareClose(fundId, { through: '2011-07-31' });
    expect((await approveClose(close.body.id)).status).toBe(200);
    expect((await h.api.get(`/api/v1/allocation-runs/${inside.body.id}`).set(auditor.auth)).body.status).toBe('stale');
    const stale = await h.api.post(`/api/v1/allocation-runs/${inside.body.id}/approve`).set(checker.auth).send({});
    expect([stale.status, stale.body.code]).toEqual([409, 'RUN_STALE']);
    // A draft dated after the closed-through date is current.
    const later = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
    expect((await h.api.post(`/api/v1/allocation-runs/${later.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
  });

  it('never posts an entry inside a period once its close is approved, when both approvals race', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, maker, '1000.00');
    const outcomes = new Set<string>();
    for (let day = 1; day <= 8; day++) {
      const through = `2011-08-${String(day * 2).padStart(2, '0')}`;
      const close = await prepareClose(fundId, { through });
      const entry = await prepareEntry(fundId, allocation(d.code, '1.00', through));
      expect([close.status, entry.status]).toEqual([201, 201]);
      const [c, e] = await Promise.all([approveClose(close.body.id), approveEntry(entry.body.id)]);
      expect([c.status, e.status]).not.toContain(500);
      outcomes.add(`${c.status}/${e.status}`);
      if (c.status !== 200) await h.api.post(`/api/v1/period-closes/${close.body.id}/reject`).set(checker.auth).send({ reason: '重试' });
      if (e.status !== 200) await h.api.post(`/api/v1/journal-entries/${entry.body.id}/reject`).set(checker.auth).send({ reason: '期间已结账' });
      if (c.status === 200 && e.status !== 200) expect(e.body.code).toBe('PERIOD_CLOSED');
      if (c.status !== 200) expect(c.body.code).toBe('PENDING_IN_PERIOD');
      // Whatever the order, every entry dated inside an approved close was in the chain its certificate was built from.
      const closes = await h
        .db('period_closes as c')
        .join('statements as s', 's.id', 'c.certificate_id')
        .where('c.fund_id', fundId)
        .select('c.through', 's.head_seq');
      for (const closed of closes) {
        const after = await h.db('journal_entries').where({ fund_id: fundId }).where('entry_date', '<=', closed.through).where('seq', '>', closed.head_seq);
        expect(after, `entries inside ${closed.through} posted after its close`).toEqual([]);
      }
    }
    expect([...outcomes].every((o) => ['200/200', '200/409', '409/200'].includes(o))).toBe(true);
  });
});
