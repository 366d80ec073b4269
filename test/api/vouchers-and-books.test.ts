import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { approveEntry, asOwner, makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
let checker: TestUser;
let auditor: TestUser;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

const prepare = (fundId: string, date: string, postings: Array<[string, 'debit' | 'credit', string]>) =>
  h.api
    .post(`/api/v1/funds/${fundId}/journal-entries`)
    .set(accountant.auth)
    .send({ date, memo: '测试凭证', postings: postings.map(([account_code, side, amount]) => ({ account_code, side, amount })) });
const allocation = (code: string, amount: string): Array<[string, 'debit' | 'credit', string]> => [
  [`5001.${code}`, 'debit', amount],
  [`2307.${code}`, 'credit', amount],
];
const payment = (code: string, amount: string): Array<[string, 'debit' | 'credit', string]> => [
  [`2307.${code}`, 'debit', amount],
  ['1011', 'credit', amount],
  [`7101.${code}`, 'debit', amount],
  ['8001', 'credit', amount],
];
const numbersOf = async (fundId: string) =>
  (await h.db('voucher_numbers').where({ fund_id: fundId }).orderBy(['voucher_year', 'number']).select('voucher_year', 'number', 'entry_id')).map((v) => ({
    year: Number(v.voucher_year),
    number: Number(v.number),
    entry: String(v.entry_id),
  }));

describe('凭证字号', () => {
  it('numbers posted entries 记-0001… per fund and per year of their date, in posting order; the journal and the entry show it', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    const other = await makeFund(h, accountant, '50.00');
    const first = await approveEntry(h, (await prepare(fundId, '2011-07-01', allocation(d.code, '100.00'))).body.id, checker);
    const nextYear = await approveEntry(h, (await prepare(fundId, '2012-01-05', allocation(d.code, '10.00'))).body.id, checker);
    // Back-dated into 2011 after a 2012 voucher: it takes 2011's next number.
    const late = await approveEntry(h, (await prepare(fundId, '2011-12-31', allocation(d.code, '1.00'))).body.id, checker);
    expect([first.voucher_no, nextYear.voucher_no, late.voucher_no]).toEqual(['记-0002', '记-0001', '记-0003']);
    expect([first.voucher_year, nextYear.voucher_year, late.voucher_year]).toEqual([2011, 2012, 2011]);
    expect((await numbersOf(other)).map((v) => v.number)).toEqual([1]);
    const journal = await h.api.get(`/api/v1/funds/${fundId}/journal?limit=10`).set(auditor.auth);
    // Newest first by date (a 序时账 read backwards): the back-dated 2011 voucher stands among 2011's.
    expect(journal.body.items.map((e: { voucher_year: number; voucher_no: string }) => `${e.voucher_year} ${e.voucher_no}`)).toEqual([
      '2012 记-0001',
      '2011 记-0003',
      '2011 记-0002',
      '2011 记-0001',
    ]);
    const one = await h.api.get(`/api/v1/journal-entries/${late.id}`).set(auditor.auth);
    expect(one.body).toMatchObject({ voucher_no: '记-0003', voucher_year: 2011, voucher_number: 3 });
  });

  it('gives concurrent approvals distinct consecutive numbers, and a refused approval leaves no gap', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await approveEntry(h, (await prepare(fundId, '2011-07-01', allocation(d.code, '1000.00'))).body.id, checker);
    const prepared = [];
    for (let i = 0; i < 30; i++) prepared.push((await prepare(fundId, '2011-08-01', payment(d.code, '75.00'))).body.id as string);
    const results = await Promise.all(prepared.map((id) => h.api.post(`/api/v1/journal-entries/${id}/approve`).set(checker.auth).send({})));
    // 1000.00 / 75.00: 13 payments fit; the other 17 are refused and roll back, numbers and all.
    expect(results.filter((r) => r.status === 200)).toHaveLength(13);
    expect(results.filter((r) => r.status === 409)).toHaveLength(17);
    const numbers = await numbersOf(fundId);
    expect(numbers.map((v) => v.number)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(new Set(results.filter((r) => r.status === 200).map((r) => r.body.voucher_no)).size).toBe(13);
    // Posting order is numbering order: seq and number rise together.
    const seqs = await h
      .db('journal_entries as e')
      .join('voucher_numbers as v', 'v.entry_id', 'e.id')
      .where('e.fund_id', fundId)
      .orderBy('v.number')
      .pluck('e.seq');
    expect(seqs.map(Number)).toEqual([...seqs.map(Number)].sort((a, b) => a - b));
  });

  it('cannot be written, changed or removed by the service login, nor changed by the owner', async () => {
    const fundId = await makeFund(h, accountant, '10.00');
    const [v] = await numbersOf(fundId);
    await expect(h.db('voucher_numbers').insert({ entry_id: v!.entry, fund_id: fundId, voucher_year: 2011, number: 99 })).rejects.toThrow(/permission denied/);
    await expect(h.db('voucher_numbers').where({ entry_id: v!.entry }).update({ number: 7 })).rejects.toThrow(/permission denied/);
    await expect(h.db('voucher_numbers').where({ entry_id: v!.entry }).delete()).rejects.toThrow(/permission denied/);
    await asOwner(async (owner) => {
      await expect(owner('voucher_numbers').where({ entry_id: v!.entry }).update({ number: 7 })).rejects.toThrow(/append_only|postings/);
      await expect(owner('voucher_numbers').where({ entry_id: v!.entry }).delete()).rejects.toThrow();
    });
    expect((await numbersOf(fundId))[0]!.number).toBe(1);
  });
});

describe('总账 and 明细账', () => {
  it('the general ledger closes on the trial balance, and an account ledger runs from its opening balance through the period', async () => {
    const d = await makeDepartment(h.db);
    const fundId = await makeFund(h, accountant, '1000.00');
    await approveEntry(h, (await prepare(fundId, '2011-07-01', allocation(d.code, '300.00'))).body.id, checker);
    await approveEntry(h, (await prepare(fundId, '2011-08-01', payment(d.code, '120.50'))).body.id, checker);
    await approveEntry(h, (await prepare(fundId, '2011-09-01', payment(d.code, '30.00'))).body.id, checker);
    const gl = await h.api.get(`/api/v1/funds/${fundId}/general-ledger?book=financial&from=2011-08-01&to=2011-12-31`).set(auditor.auth);
    expect(gl.status).toBe(200);
    const tb = await h.api.get(`/api/v1/funds/${fundId}/trial-balance?as_of=2011-12-31`).set(auditor.auth);
    const payable = gl.body.accounts.find((a: { code: string }) => a.code === '2307');
    expect(payable).toMatchObject({
      opening: { direction: '贷', amount: '300.00' },
      debit: '150.50',
      credit: '0.00',
      closing: { direction: '贷', amount: '149.50' },
    });
    const cash = gl.body.accounts.find((a: { code: string }) => a.code === '1011');
    expect(cash).toMatchObject({ opening: { direction: '借', amount: '1000.00' }, credit: '150.50', closing: { direction: '借', amount: '849.50' } });
    expect(tb.body.accounts.find((a: { code: string }) => a.code === '1011').debit).toBe(cash.closing.amount);
    const ledger = await h.api.get(`/api/v1/funds/${fundId}/accounts/2307.${d.code}/detail-ledger?from=2011-08-01&to=2011-12-31&limit=1`).set(auditor.auth);
    expect(ledger.body).toMatchObject({
      opening: { direction: '贷', amount: '300.00' },
      debit_total: '150.50',
      credit_total: '0.00',
      closing: { direction: '贷', amount: '149.50' },
    });
    expect(ledger.body.items).toMatchObject([{ date: '2011-08-01', debit: '120.50', credit: null, direction: '贷', balance: '179.50' }]);
    const next = await h.api
      .get(`/api/v1/funds/${fundId}/accounts/2307.${d.code}/detail-ledger?from=2011-08-01&to=2011-12-31&limit=1&cursor=${ledger.body.next_cursor}`)
      .set(auditor.auth);
    expect(next.body.items).toMatchObject([{ date: '2011-09-01', debit: '30.00', balance: '149.50' }]);
    expect(next.body.next_cursor).toBeNull();
  });

  it('refuses a period that ends before it starts (422) and an account the fund does not have (404)', async () => {
    const fundId = await makeFund(h, accountant, '10.00');
    const backwards = await h.api.get(`/api/v1/funds/${fundId}/general-ledger?from=2011-12-31&to=2011-01-01`).set(auditor.auth);
    expect(backwards.status).toBe(422);
    const missing = await h.api.get(`/api/v1/funds/${fundId}/accounts/2307.NOPE/detail-ledger?from=2011-01-01&to=2011-12-31`).set(auditor.auth);
    expect(missing.status).toBe(404);
    const unit = await makeUser(h.db, 'department', (await makeDepartment(h.db)).id);
    expect((await h.api.get(`/api/v1/funds/${fundId}/general-ledger?from=2011-01-01&to=2011-12-31`).set(unit.auth)).status).toBe(403);
  });
});

describe('the audit log export', () => {
  it('filters by part of a user name and writes a title block above Chinese action and role names, in XLSX and CSV', async () => {
    const name = unique('kj');
    const dept = await makeDepartment(h.db);
    const who = await makeUser(h.db, 'accountant');
    await h.db('users').where({ id: who.id }).update({ username: name });
    const fundId = await makeFund(h, who, '10.00');
    await prepare(fundId, '2011-07-01', allocation(dept.code, '1.00'));
    const csv = await h.api.get(`/api/v1/audit-log/export?format=csv&actor=${name.toUpperCase()}`).set(auditor.auth);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-disposition']).toMatch(/attachment/);
    const lines = csv.text.replace(/^\uFEFF/, '').split('\r\n');
    expect(lines[0]).toBe('审计日志');
    expect(lines[1]).toContain(`用户名含“${name.toUpperCase()}”`);
    expect(lines[4]).toContain(auditor.username);
    expect(csv.text).toContain(`${name},会计,新建资金,fund.create`);
    expect(csv.text).not.toContain('ledger.manual_prepare');
    const xlsx = await h.api
      .get(`/api/v1/audit-log/export?format=xlsx&actor=${name}&action=fund.create`)
      .set(auditor.auth)
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(xlsx.body as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    expect(sheet.getCell('A1').value).toBe('审计日志');
    expect(sheet.getCell('B3').value).toBe('1');
    expect(sheet.getRow(7).values).toContain('操作');
    expect(sheet.getRow(8).values).toEqual(expect.arrayContaining([name, '会计', '新建资金', 'fund.create']));
    const units = await makeUser(h.db, 'department', dept.id);
    expect((await h.api.get('/api/v1/audit-log/export?format=csv').set(units.auth)).status).toBe(403);
    expect((await h.api.get('/api/v1/audit-log/export?format=pdf').set(auditor.auth)).status).toBe(422);
  });
});
