import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { todayInShanghai } from '../../server/http/schemas.ts';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser, asOwner } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
let inspector: TestUser;
beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  inspector = await makeUser(h.db, 'inspector');
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

const scan = () => Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%${Math.random()}\n%%EOF`);

async function unit(status = 'procuring') {
  const d = await makeDepartment(h.db, { status });
  return { ...d, user: await makeUser(h.db, 'department', d.id) };
}

async function inspection(departmentIds: string[], date = '2011-09-25') {
  const res = await h.api
    .post('/api/v1/inspections')
    .set(inspector.auth)
    .send({ document_no: unique('新软正督〔2011〕'), team: ['王督察', '李督察'], date, department_ids: departmentIds });
  expect(res.status).toBe(201);
  return res.body as { id: string; document_no: string };
}

async function finding(inspectionId: string, departmentId: string, overrides: Record<string, unknown> = {}) {
  const res = await h.api
    .post(`/api/v1/inspections/${inspectionId}/findings`)
    .set(inspector.auth)
    .send({
      department_id: departmentId,
      kind: 'unlicensed_installs',
      description: '抽查 20 台计算机，其中 6 台安装未授权的 Office 2007',
      unlicensed_installs: 6,
      deadline: '2011-10-31',
      ...overrides,
    });
  expect(res.status).toBe(201);
  return res.body as { id: string; status: string };
}

describe('inspections and findings', () => {
  it('an inspector records a visit and findings for the units it visited', async () => {
    const a = await unit();
    const b = await unit();
    const visit = await inspection([a.id, b.id]);
    expect(visit).toMatchObject({ team: ['王督察', '李督察'], date: '2011-09-25' });
    const f = await finding(visit.id, a.id);
    expect(f).toMatchObject({ kind: 'unlicensed_installs', unlicensed_installs: 6, deadline: '2011-10-31', status: 'open', document_no: visit.document_no });
    const read = await h.api.get(`/api/v1/inspections/${visit.id}`).set(auditor.auth);
    expect(read.body.units.map((u: { id: string }) => u.id).sort()).toEqual([a.id, b.id].sort());
    expect(read.body.findings.map((x: { id: string }) => x.id)).toEqual([f.id]);
    expect((await h.db('audit_log').where({ action: 'finding.create', object_id: f.id })).length).toBe(1);
  });

  it.each([
    ['a unit the inspection did not visit', async () => ({ department_id: (await unit()).id })],
    ['unlicensed installs without their number', async () => ({ unlicensed_installs: undefined })],
    ['a number on another kind', async () => ({ kind: 'register_mismatch', unlicensed_installs: 3 })],
    ['an unknown kind', async () => ({ kind: 'bad_mood' })],
    ['a deadline before the visit', async () => ({ deadline: '2011-09-01' })],
    ['a deadline that does not exist', async () => ({ deadline: '2011-09-31' })],
  ])('refuses %s with 422 and records nothing', async (_name, change) => {
    const a = await unit();
    const visit = await inspection([a.id]);
    const res = await h.api
      .post(`/api/v1/inspections/${visit.id}/findings`)
      .set(inspector.auth)
      .send({
        department_id: a.id,
        kind: 'unlicensed_installs',
        description: '问题',
        unlicensed_installs: 6,
        deadline: '2011-10-31',
        ...(await change()),
      });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/[\u4e00-\u9fff]/);
    expect(await h.db('findings').where({ inspection_id: visit.id })).toEqual([]);
  });

  it('refuses a second inspection with the same document number (409) and an unknown unit (422)', async () => {
    const a = await unit();
    const visit = await inspection([a.id]);
    expect(
      (
        await h.api
          .post('/api/v1/inspections')
          .set(inspector.auth)
          .send({ document_no: visit.document_no, team: ['王'], date: '2011-09-25', department_ids: [a.id] })
      ).status,
    ).toBe(409);
    expect(
      (
        await h.api
          .post('/api/v1/inspections')
          .set(inspector.auth)
          .send({ document_no: unique('X'), team: ['王'], date: '2011-09-25', department_ids: ['999999999'] })
      ).status,
    ).toBe(422);
    expect(
      (
        await h.api
          .post('/api/v1/inspections')
          .set(inspector.auth)
          .send({ document_no: unique('X'), team: [], date: '2011-09-25', department_ids: [a.id] })
      ).status,
    ).toBe(422);
  });

  it("a unit cannot see or answer another unit's findings: 404", async () => {
    const a = await unit();
    const b = await unit();
    const visit = await inspection([a.id, b.id]);
    const fa = await finding(visit.id, a.id);
    const fb = await finding(visit.id, b.id, { kind: 'register_mismatch', unlicensed_installs: undefined, description: '台账与实际不符' });
    expect((await h.api.get(`/api/v1/findings/${fb.id}`).set(a.user.auth)).status).toBe(404);
    expect((await h.api.post(`/api/v1/findings/${fb.id}/rectifications`).set(a.user.auth).send({ note: '已整改' })).status).toBe(404);
    const list = await h.api.get('/api/v1/findings').set(a.user.auth);
    expect(list.body.items.map((x: { id: string }) => x.id)).toEqual([fa.id]);
    const read = await h.api.get(`/api/v1/inspections/${visit.id}`).set(a.user.auth);
    expect(read.body.findings.map((x: { id: string }) => x.id)).toEqual([fa.id]);
    expect(read.body.units.map((u: { id: string }) => u.id)).toEqual([a.id]);
    const stranger = await unit();
    expect((await h.api.get(`/api/v1/inspections/${visit.id}`).set(stranger.user.auth)).status).toBe(404);
  });

  it('the unit answers with a note and a scan; the inspector keeps it open, then closes it; closed is final', async () => {
    const a = await unit();
    const visit = await inspection([a.id]);
    const f = await finding(visit.id, a.id);
    const answer = await h.api.post(`/api/v1/findings/${f.id}/rectifications`).set(a.user.auth).send({ note: '已卸载 6 套未授权软件并采购正版' });
    expect(answer.status).toBe(201);
    expect((await h.api.post(`/api/v1/rectifications/${answer.body.id}/attachments`).set(a.user.auth).attach('file', scan(), '整改报告.pdf')).status).toBe(201);
    expect((await h.api.post(`/api/v1/findings/${f.id}/close`).set(a.user.auth).send({ note: '自己销号' })).status).toBe(403);
    const kept = await h.api.post(`/api/v1/findings/${f.id}/keep-open`).set(inspector.auth).send({ note: '缺少采购合同' });
    expect(kept.body.status).toBe('open');
    await h.api.post(`/api/v1/findings/${f.id}/rectifications`).set(a.user.auth).send({ note: '补充采购合同' });
    const closed = await h.api.post(`/api/v1/findings/${f.id}/close`).set(inspector.auth).send({ note: '整改到位，予以销号' });
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe('closed');
    expect(closed.body.history.map((e: { kind: string }) => e.kind)).toEqual(['rectification', 'kept_open', 'rectification', 'closed']);
    expect(closed.body.history[0].attachments).toHaveLength(1);
    const scanId = closed.body.history[0].attachments[0].id;
    expect((await h.api.get(`/api/v1/attachments/${scanId}`).set(inspector.auth)).status).toBe(200);
    expect((await h.api.get(`/api/v1/attachments/${scanId}`).set(a.user.auth)).status).toBe(200);
    expect((await h.api.get(`/api/v1/attachments/${scanId}`).set((await unit()).user.auth)).status).toBe(404);
    expect((await h.api.post(`/api/v1/findings/${f.id}/rectifications`).set(a.user.auth).send({ note: '再补充' })).status).toBe(409);
    expect((await h.api.post(`/api/v1/findings/${f.id}/close`).set(inspector.auth).send({ note: '再次' })).status).toBe(409);
    await expect(h.db('findings').where({ id: f.id }).update({ status: 'open', closed_by: null })).rejects.toThrow(/never edited/);
    // The pool may not delete at all; the owner meets the trigger.
    await expect(h.db('findings').where({ id: f.id }).delete()).rejects.toThrow(/permission denied/);
    await expect(asOwner((o) => o('findings').where({ id: f.id }).delete())).rejects.toThrow(/append-only/);
  });

  it('lists overdue findings: past the deadline and not closed', async () => {
    const a = await unit();
    const visit = await inspection([a.id], '2011-09-01');
    const late = await finding(visit.id, a.id, { deadline: '2011-09-15' });
    const lateClosed = await finding(visit.id, a.id, { deadline: '2011-09-15' });
    await h.api.post(`/api/v1/findings/${lateClosed.id}/close`).set(inspector.auth).send({ note: '已整改' });
    const future = await finding(visit.id, a.id, { deadline: `${Number(todayInShanghai().slice(0, 4)) + 1}-12-31` });
    const overdue = await h.api.get(`/api/v1/findings?overdue=1&inspection_id=${visit.id}`).set(inspector.auth);
    expect(overdue.body.items.map((x: { id: string }) => x.id)).toEqual([late.id]);
    expect(overdue.body.items[0].overdue).toBe(true);
    const all = await h.api.get(`/api/v1/findings?inspection_id=${visit.id}`).set(inspector.auth);
    expect(all.body.items.find((x: { id: string }) => x.id === future.id).overdue).toBe(false);
  });
});

describe('an inspector moves no money', () => {
  it('is refused every money movement with 403 and changes nothing', async () => {
    const fundId = await makeFund(h, maker, '1000.00');
    const a = await unit();
    const visit = await inspection([a.id]);
    const f = await finding(visit.id, a.id);
    const before = await h.db('journal_entries').where({ fund_id: fundId }).count({ n: '*' }).first();
    for (const [path, body] of [
      [`/api/v1/funds/${fundId}/appropriations`, { amount: '10.00', document_no: 'X', date: '2011-06-01' }],
      [`/api/v1/funds/${fundId}/journal-entries`, { date: '2011-06-02', memo: 'x', postings: [] }],
      [`/api/v1/funds/${fundId}/disbursements`, { department_id: a.id, amount: '1.00', voucher_no: 'V', date: '2011-09-01' }],
      [`/api/v1/funds/${fundId}/allocation-runs`, {}],
      [`/api/v1/findings/${f.id}/clawback`, { fund_id: fundId, amount: '1.00' }],
      ['/api/v1/finding-clawbacks/1/approve', {}],
    ] as const) {
      const res = await h.api.post(path).set(inspector.auth).send(body);
      expect(res.status, path).toBe(403);
    }
    expect(await h.db('journal_entries').where({ fund_id: fundId }).count({ n: '*' }).first()).toEqual(before);
    expect(await h.db('finding_clawbacks').where({ finding_id: f.id })).toEqual([]);
  });
});

describe('a clawback from a finding', () => {
  const policy = { rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, licence_caps: {}, require_completed: false };

  /** A unit with 1,000.00 of reward allocated and unpaid. */
  async function unitOwed() {
    const fundId = await makeFund(h, maker, '100000.00');
    expect((await h.api.put(`/api/v1/funds/${fundId}/policy`).set(maker.auth).send(policy)).status).toBe(201);
    const a = await unit('completed');
    const receipt = await h.api
      .post(`/api/v1/departments/${a.id}/receipts`)
      .set(a.user.auth)
      .send(
        receiptBody(fundId, {
          lines: [{ product: 'Windows 7', category: 'os', licences: 10, amount: '2000.00' }],
          total: '2000.00',
        }),
      );
    await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({});
    const run = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
    expect((await h.api.post(`/api/v1/allocation-runs/${run.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
    const visit = await inspection([a.id]);
    const f = await finding(visit.id, a.id);
    return { fundId, a, visit, f };
  }

  const payable = async (fundId: string, code: string) =>
    (
      await h
        .db('accounts')
        .where({ fund_id: fundId, code: `2307.${code}` })
        .first('balance')
    )?.balance;

  it('is prepared by one accountant, refused to the same one (403), posted Dr 2307.d / Cr 5001.d by another, and shown on the statement', async () => {
    const { fundId, a, visit, f } = await unitOwed();
    expect(await payable(fundId, a.code)).toBe('1000.00');
    const prepared = await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '300.00' });
    expect(prepared.status).toBe(201);
    expect(prepared.body).toMatchObject({ status: 'pending', amount: '300.00', entry_id: null, department_id: a.id });
    expect(await payable(fundId, a.code)).toBe('1000.00');
    const same = await h.api.post(`/api/v1/finding-clawbacks/${prepared.body.id}/approve`).set(maker.auth).send({});
    expect(same.status).toBe(403);
    expect(same.body.code).toBe('SAME_ACCOUNTANT');
    const fundBefore = (await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body;
    const approved = await h.api.post(`/api/v1/finding-clawbacks/${prepared.body.id}/approve`).set(checker.auth).send({});
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');
    expect(approved.body.entry).toMatchObject({
      kind: 'clawback',
      document_no: visit.document_no,
      department_id: a.id,
      created_by: maker.id,
      approved_by: checker.id,
    });
    expect(approved.body.approved_by).toBe(checker.id);
    expect(approved.body.entry.postings.map((p: { account_code: string; side: string; amount: string }) => [p.account_code, p.side, p.amount])).toEqual([
      [`2307.${a.code}`, 'debit', '300.00'],
      [`5001.${a.code}`, 'credit', '300.00'],
    ]);
    expect(await payable(fundId, a.code)).toBe('700.00');
    const fundAfter = (await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body;
    expect([fundBefore.allocated, fundAfter.allocated]).toEqual(['1000.00', '700.00']);
    expect((await h.api.post(`/api/v1/finding-clawbacks/${prepared.body.id}/approve`).set(checker.auth).send({})).status).toBe(409);
    // The next run does not pay the forfeited reward straight back.
    const rerun = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-10-31' });
    const line = (rerun.body.lines ?? []).find((l: { department_id: string }) => l.department_id === a.id);
    expect(line?.amount ?? '0.00').toBe('0.00');
    // The unit's statement shows the clawback with the inspection's document number.
    const pdf = await h.api.get(`/api/v1/funds/${fundId}/departments/${a.id}/statement.pdf`).set(a.user.auth).buffer(true).parse(binaryParser);
    expect(pdf.status).toBe(200);
    const text = (await pdfText(pdf.body)).join('\n');
    expect(text).toContain(visit.document_no);
    expect(text).toContain('-300.00');
  });

  it('is prepared once per Idempotency-Key: the same request replays, another body is refused', async () => {
    const { fundId, f } = await unitOwed();
    const key = unique('claw-');
    const first = await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).set('Idempotency-Key', key).send({ fund_id: fundId, amount: '100.00' });
    const again = await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).set('Idempotency-Key', key).send({ fund_id: fundId, amount: '100.00' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect(
      (await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).set('Idempotency-Key', key).send({ fund_id: fundId, amount: '200.00' })).status,
    ).toBe(422);
    expect(await h.db('finding_clawbacks').where({ finding_id: f.id })).toHaveLength(1);
  });

  it('never takes more than the unit is owed, pending payments and clawbacks included', async () => {
    const { fundId, f } = await unitOwed();
    const a = (await h.db('findings').where({ id: f.id }).first('department_id')).department_id;
    expect((await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '1000.01' })).status).toBe(409);
    expect(
      (
        await h.api
          .post(`/api/v1/funds/${fundId}/disbursements`)
          .set(maker.auth)
          .send({ department_id: String(a), amount: '600.00', voucher_no: unique('V'), date: '2011-10-01' })
      ).status,
    ).toBe(201);
    const over = await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '400.01' });
    expect(over.status).toBe(409);
    expect(over.body.code).toBe('EXCEEDS_PAYABLE');
    expect(over.body.detail).toMatch(/399|400\.00/);
    expect((await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '400.00' })).status).toBe(201);
    expect((await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '0.01' })).status).toBe(409);
    expect((await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '0.00' })).status).toBe(422);
    expect((await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: 5 })).status).toBe(422);
    expect((await h.api.post('/api/v1/findings/999999999/clawback').set(maker.auth).send({ fund_id: fundId, amount: '1.00' })).status).toBe(404);
  });

  it('raced against a payment of the same unpaid reward, only one of them posts and 2307.d never goes below zero', async () => {
    const { fundId, a, f } = await unitOwed();
    const clawback = await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '700.00' });
    expect(clawback.status).toBe(201);
    // A payment prepared afterwards does not see the clawback's reservation: the race is real.
    const payment = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: a.id, amount: '600.00', voucher_no: unique('V'), date: '2011-10-01' });
    expect(payment.status).toBe(201);
    const [c, p] = await Promise.all([
      h.api.post(`/api/v1/finding-clawbacks/${clawback.body.id}/approve`).set(checker.auth).send({}),
      h.api.post(`/api/v1/disbursements/${payment.body.id}/approve`).set(checker.auth).send({}),
    ]);
    expect([c.status, p.status].sort()).toEqual([200, 409]);
    const left = await payable(fundId, a.code);
    expect(left).toBe(c.status === 200 ? '300.00' : '400.00');
  });

  it('the database refuses a clawback approved by its maker or edited after the fact', async () => {
    const { fundId, f } = await unitOwed();
    const prepared = await h.api.post(`/api/v1/findings/${f.id}/clawback`).set(maker.auth).send({ fund_id: fundId, amount: '10.00' });
    await expect(h.db('finding_clawbacks').where({ id: prepared.body.id }).update({ approved_by: maker.id })).rejects.toThrow(/maker_checker|never edited/);
    await expect(h.db('finding_clawbacks').where({ id: prepared.body.id }).update({ amount: '1.00' })).rejects.toThrow(/never edited/);
    await expect(asOwner((o) => o('finding_clawbacks').where({ id: prepared.body.id }).delete())).rejects.toThrow(/append-only/);
    const cancelled = await h.api.post(`/api/v1/finding-clawbacks/${prepared.body.id}/cancel`).set(checker.auth).send({});
    expect(cancelled.body.status).toBe('cancelled');
    expect((await h.api.post(`/api/v1/finding-clawbacks/${prepared.body.id}/approve`).set(checker.auth).send({})).status).toBe(409);
  });
});

describe('escalation and the target', () => {
  it("lists units not started without a written report after the deadline, with the head's report due date", async () => {
    const silent = await unit('not_started');
    const reported = await unit('not_started');
    const started = await unit('procuring');
    await h.api.put('/api/v1/progress/target').set(maker.auth).send({ target_date: '2011-10-31', target_rate: '1.0000', in_person_days: 10 });
    expect((await h.api.put('/api/v1/progress/deadline').set(maker.auth).send({ deadline: '2011-09-20', title: '专题书面报告' })).status).toBe(200);
    expect(
      (await h.api.post(`/api/v1/departments/${reported.id}/written-reports`).set(reported.user.auth).send({ body: '资金尚未落实，计划十月完成采购' })).status,
    ).toBe(201);
    const res = await h.api.get('/api/v1/progress/escalations').set(inspector.auth);
    expect(res.status).toBe(200);
    const ids = res.body.items.map((i: { department_id: string }) => i.department_id);
    expect(ids).toContain(silent.id);
    expect(ids).not.toContain(reported.id);
    expect(ids).not.toContain(started.id);
    expect(res.body.items.find((i: { department_id: string }) => i.department_id === silent.id)).toMatchObject({
      department_code: silent.code,
      name: silent.name,
      status: 'not_started',
      due: '2011-09-30',
    });
    // The bulletin names them, with the compliance figures and the open findings.
    const bulletin = await h.api.get('/api/v1/progress/bulletin.pdf').set(auditor.auth).buffer(true).parse(binaryParser);
    expect(bulletin.status).toBe(200);
    const text = (await pdfText(bulletin.body)).join('\n').replace(/\n/g, '');
    expect(text).toContain('正版化率');
    expect(text).toContain('督查发现问题整改情况');
    expect(text).toContain('当面汇报');
    expect(text).toContain(silent.name);
    // Before the deadline nobody owes an in-person report.
    expect((await h.api.get('/api/v1/progress/escalations?as_of=2011-09-20').set(auditor.auth)).body.items).toEqual([]);
  });

  it('the progress report shows the projected rate against the target and the units that put it at risk', async () => {
    const withFinding = await unit('completed');
    const awaiting = await unit('awaiting_funds');
    const slow = await unit('not_started');
    expect(
      (await h.api.put(`/api/v1/departments/${slow.id}/status`).set(slow.user.auth).send({ status: 'procuring', effective_date: '2011-05-01' })).status,
    ).toBe(200);
    const visit = await inspection([withFinding.id]);
    await finding(visit.id, withFinding.id);
    expect((await h.api.put('/api/v1/progress/target').set(maker.auth).send({ target_date: '2011-10-31', target_rate: '1.0000' })).status).toBe(200);
    expect((await h.api.put('/api/v1/progress/target').set(maker.auth).send({ target_date: '2011-10-31', target_rate: '1.5' })).status).toBe(422);
    expect((await h.api.put('/api/v1/progress/target').set(inspector.auth).send({ target_date: '2011-10-31', target_rate: '1.0000' })).status).toBe(403);
    const report = (await h.api.get('/api/v1/progress').set(inspector.auth)).body;
    expect(report.target).toMatchObject({ target_date: '2011-10-31', target_rate: '1.0000', projected_rate: report.projected_rate });
    expect(report.target.on_track).toBe(report.projected_rate === '1.0000');
    const risk = Object.fromEntries(report.at_risk.map((u: { id: string; reasons: string[] }) => [u.id, u.reasons]));
    expect(risk[withFinding.id]).toEqual(['open_findings']);
    expect(risk[awaiting.id]).toEqual(['awaiting_funds']);
    expect(risk[slow.id]).toEqual(['procuring_long']);
    // Procuring since 2011-05-01 is not yet long on 2011-06-15 (60 days by default).
    const early = (await h.api.get('/api/v1/progress?as_of=2011-06-15').set(inspector.auth)).body;
    expect(early.at_risk.map((u: { id: string }) => u.id)).not.toContain(slow.id);
  });
});
