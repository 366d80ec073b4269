import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSeparators } from '../../reports/format.ts';
import { entryKindName } from '../../server/ledger/entry-kinds.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';
import { receiptBody } from '../support/receipts.ts';
import { csrfToken } from '../../server/ui/session.ts';

let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
let fundId: string;
let unit: { id: string; code: string; name: string; user: TestUser; invoice: string; voucher: string };

const get = (path: string, user: TestUser) => h.api.get(path).set(user.auth).buffer(true).parse(binaryParser);
const textOf = async (bytes: Buffer) => (await pdfText(bytes)).join('\n').replace(/\s+/g, '');

beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, maker, '1000000.00');
  await h.api
    .put(`/api/v1/funds/${fundId}/policy`)
    .set(maker.auth)
    .send({ rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, licence_caps: { office: '600.00' }, require_completed: true });
  const d = await makeDepartment(h.db, { name: '统计局' });
  await h.api.put(`/api/v1/departments/${d.id}/status`).set(maker.auth).send({ status: 'completed', effective_date: '2011-08-01', accepted_on: '2011-08-20' });
  const body = receiptBody(fundId, {
    lines: [
      { product: 'Windows 7 专业版', category: 'os', licences: 10, amount: '8200.00' },
      { product: 'Office 2010', category: 'office', licences: 10, amount: '14095.00' },
    ],
    total: '22295.00',
  });
  const receipt = await h.api.post(`/api/v1/departments/${d.id}/receipts`).set(maker.auth).send(body);
  await h.api.post(`/api/v1/receipts/${receipt.body.id}/verify`).set(maker.auth).send({});
  const run = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
  await h.api.post(`/api/v1/allocation-runs/${run.body.id}/approve`).set(checker.auth).send({});
  const voucher = unique('付');
  const pay = await h.api
    .post(`/api/v1/funds/${fundId}/disbursements`)
    .set(maker.auth)
    .send({ department_id: d.id, amount: '6007.14', voucher_no: voucher, date: '2011-10-08' });
  await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(checker.auth).send({});
  unit = { ...d, user: await makeUser(h.db, 'department', d.id), invoice: `${body.invoice_code}${body.invoice_number}`, voucher };
});
afterAll(() => h.close());

describe('the department statement (资金拨付通知书)', () => {
  it('shows the fund, the unit, the receipts, the allocation, the payment and the totals in figures and in words, against the ledger', async () => {
    const res = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, auditor);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const fund = (await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body;
    const text = await textOf(res.body);
    for (const s of [
      '以奖代补资金拨付通知书',
      fund.name,
      fund.document_no,
      '统计局',
      unit.invoice,
      unit.voucher,
      '2011年10月8日',
      res.headers['x-statement-no'],
      fund.head_hash,
      '制单',
      '审核',
      '会计主管',
    ]) {
      expect(text, s).toContain(s.replace(/\s+/g, ''));
    }
    // Allocation: os 8,200.00 × 50% + office min(7,047.50, 10 × 600.00) = 4,100.00 + 6,000.00
    expect(text).toContain('10,100.00人民币壹万零壹佰元整');
    expect(text).toContain('6,007.14人民币陆仟零柒元壹角肆分');
    expect(text).toContain(`${withSeparators('4092.86')}人民币肆仟零玖拾贰元捌角陆分`);
    expect(text).toMatch(/第1页共\d+页/);
  });

  it('embeds a subset of the CJK font, as real text', async () => {
    const res = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, auditor);
    expect(res.body.toString('latin1')).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansSC-Regular/);
    expect(res.body.length).toBeLessThan(300 * 1024);
  });

  it('gives the same bytes and number on a second download; new postings make a new, next statement', async () => {
    const first = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, maker);
    const again = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, unit.user);
    expect(again.headers['x-statement-no']).toBe(first.headers['x-statement-no']);
    expect(Buffer.compare(again.body, first.body)).toBe(0);
    const pay = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: unit.id, amount: '1.00', voucher_no: unique('付'), date: '2011-10-09' });
    await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(checker.auth).send({});
    const after = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, maker);
    const seq = (no: string | undefined) => Number(String(no).split('-').pop());
    expect(seq(after.headers['x-statement-no'])).toBeGreaterThan(seq(first.headers['x-statement-no']));
    const numbers = (await h.db('statements').where({ fund_id: fundId }).orderBy('seq').pluck('seq')).map(Number);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  it("is the unit's own only: another unit's statement is 404", async () => {
    const other = await makeUser(h.db, 'department', (await makeDepartment(h.db)).id);
    expect((await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, unit.user)).status).toBe(200);
    expect((await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, other)).status).toBe(404);
    expect((await get(`/api/v1/funds/${fundId}/summary.pdf`, unit.user)).status).toBe(403);
  });

  it('tells an auditor the original is genuine and a one-byte change is not', async () => {
    const res = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, auditor);
    const genuine = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', res.body, 'statement.pdf');
    expect(genuine.body).toMatchObject({ genuine: true, statement_no: res.headers['x-statement-no'], kind: 'department', department_id: unit.id });
    const altered = Buffer.from(res.body);
    const middle = Math.floor(altered.length / 2);
    altered[middle] = altered[middle]! ^ 0x01;
    const forged = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', altered, 'statement.pdf');
    expect(forged.body.genuine).toBe(false);
    const record = await h.api.get(`/api/v1/statements/${res.headers['x-statement-no']}`).set(auditor.auth);
    expect(record.body).toMatchObject({ statement_no: res.headers['x-statement-no'], sha256: res.headers['x-statement-sha256'] });
  });

  it('says when a genuine statement has been superseded by a newer one for the same unit and fund', async () => {
    const older = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, auditor);
    const current = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', older.body, 'statement.pdf');
    expect(current.body).toMatchObject({ genuine: true, statement_no: older.headers['x-statement-no'], superseded_by: null });
    const pay = await h.api
      .post(`/api/v1/funds/${fundId}/disbursements`)
      .set(maker.auth)
      .send({ department_id: unit.id, amount: '1.00', voucher_no: unique('付'), date: '2011-10-10' });
    await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(checker.auth).send({});
    const newer = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, auditor);
    expect(newer.headers['x-statement-no']).not.toBe(older.headers['x-statement-no']);
    const replaced = await h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', older.body, 'statement.pdf');
    expect(replaced.body).toMatchObject({ genuine: true, statement_no: older.headers['x-statement-no'], superseded_by: newer.headers['x-statement-no'] });
    const page = await h.api
      .post(`/statements/verify`)
      .set('Cookie', `jb_session=${auditor.token}`)
      .field('_csrf', csrfToken(auditor.token))
      .attach('file', older.body, 'statement.pdf');
    expect(page.text).toContain(`已被更新的通知书 ${newer.headers['x-statement-no']} 取代`);
  });

  it('prints a unit name with 𠮷 (CJK Extension B) from the fallback font, in the text layer', async () => {
    const d = await makeDepartment(h.db, { name: '𠮷田信息中心😀' });
    const res = await get(`/api/v1/funds/${fundId}/departments/${d.id}/statement.pdf`, maker);
    expect(res.status).toBe(200);
    expect(res.headers['x-unprintable-characters']).toBeUndefined();
    expect(await textOf(res.body)).toContain('𠮷田信息中心😀');
  });

  it('records every download in the audit log', async () => {
    const res = await get(`/api/v1/funds/${fundId}/departments/${unit.id}/statement.pdf`, unit.user);
    const events = await h.db('audit_log').where({ action: 'statement.download', actor_id: unit.user.id, object_id: res.headers['x-statement-no'] });
    expect(events.length).toBeGreaterThan(0);
  });

  it('paginates 1,000 receipt lines cleanly, repeating the table header on every page', async () => {
    const d = await makeDepartment(h.db, { name: '大批量单位' });
    const lines = Array.from({ length: 1000 }, (_, i) => ({ product: `正版软件授权 ${i + 1}`, category: 'other', licences: 1, amount: '10.00' }));
    const r = await h.api
      .post(`/api/v1/departments/${d.id}/receipts`)
      .set(maker.auth)
      .send(receiptBody(fundId, { lines, total: '10000.00' }));
    expect(r.status).toBe(201);
    await h.api.post(`/api/v1/receipts/${r.body.id}/verify`).set(maker.auth).send({});
    const res = await get(`/api/v1/funds/${fundId}/departments/${d.id}/statement.pdf`, auditor);
    const pages = await pdfText(res.body);
    expect(pages.length).toBeGreaterThan(10);
    const receiptPages = pages.filter((p) => p.includes('正版软件授权'));
    for (const p of receiptPages) expect(p).toContain('发票代码/号码');
    expect(pages.join('')).toContain('正版软件授权 1000');
    expect(res.body.length).toBeLessThan(300 * 1024);
  });
});

describe('the fund summary', () => {
  it('lists every unit and totals that equal the trial balance', async () => {
    const res = await get(`/api/v1/funds/${fundId}/summary.pdf`, auditor);
    expect(res.status).toBe(200);
    const text = await textOf(res.body);
    const tb = (await h.api.get(`/api/v1/funds/${fundId}/trial-balance`).set(auditor.auth)).body;
    const balance = (code: string) =>
      tb.accounts
        .filter((a: { code: string }) => a.code === code || a.code.startsWith(`${code}.`))
        .reduce((s: number, a: { debit: string; credit: string }) => s + Math.round(Number(a.debit) * 100) + Math.round(Number(a.credit) * 100), 0);
    const money = (fen: number) => withSeparators((fen / 100).toFixed(2));
    expect(text).toContain(`财政拨款${money(balance('4001'))}`);
    expect(text).toContain(`已分配${money(balance('5001'))}`);
    expect(text).toContain(`已拨付${money(balance('7101'))}`);
    expect(text).toContain(`用款额度余额${money(balance('1011'))}`);
    expect(text).toContain(`${unit.code}统计局已完成`);
    const others = await h.db('departments').orderBy('code').limit(3).pluck('code');
    for (const code of others) expect(text).toContain(code);
  });
});

describe('exports', () => {
  const fundFields = async () => (await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body;

  it('gives the journal as CSV under a title block (fund, document number, period, when, by whom), named for the fund and year', async () => {
    const fund = await fundFields();
    const res = await get(`/api/v1/funds/${fundId}/journal.csv`, auditor);
    const text = res.body.toString('utf8');
    const lines: string[] = text.replace(/^\uFEFF/, '').split('\r\n');
    expect(lines[0]).toBe(`${fund.name}序时账`);
    expect(lines[1]).toBe(`资金,${fund.name}（${fund.code}）`);
    expect(lines[2]).toBe(`资金文号,${fund.document_no}`);
    expect(lines[3]).toBe(`期间,${fund.fiscal_year}年度（全部凭证）`);
    expect(lines[4]).toMatch(/^生成时间,"?\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}:\d{2}"?$/);
    expect(lines[5]).toBe(`生成人,${auditor.username}`);
    expect(lines[6]).toBe('');
    expect(lines[7]!.startsWith('凭证号,日期,类型,摘要')).toBe(true);
    expect(text).toContain(',6007.14,');
    // Entry kinds in the books' one vocabulary (the voucher and the journal page say the same), never the code.
    const kinds: string[] = await h.db('journal_entries').where({ fund_id: fundId }).distinct('kind').pluck('kind');
    for (const k of kinds) expect(lines.slice(8).some((l) => l.split(',')[2] === entryKindName(k))).toBe(true);
    expect(lines.slice(8).some((l) => kinds.includes(l.split(',')[2]!))).toBe(false);
    const name = `${fund.name}-序时账-${fund.fiscal_year}.csv`;
    expect(res.headers['content-disposition']).toContain(`filename*=UTF-8''${encodeURIComponent(name)}`);
    const ranged = await get(`/api/v1/funds/${fundId}/journal.xlsx?from=2011-10-01&to=2011-10-31`, auditor);
    expect(ranged.headers['content-disposition']).toContain(encodeURIComponent(`${fund.name}-序时账-2011-10-01至2011-10-31.xlsx`));
  });

  it('gives the trial balance as XLSX under its title block, with amounts as numbers formatted to two decimals', async () => {
    const fund = await fundFields();
    const res = await get(`/api/v1/funds/${fundId}/trial-balance.xlsx?as_of=2011-12-31`, auditor);
    expect(res.headers['content-disposition']).toContain(encodeURIComponent(`${fund.name}-试算平衡表-2011-12-31.xlsx`));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.body as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    expect(ws.getRow(1).getCell(1).value).toBe(`${fund.name}试算平衡表`);
    expect(ws.getRow(3).values).toEqual([undefined, '资金文号', fund.document_no]);
    expect(ws.getRow(4).values).toEqual([undefined, '截至', '2011-12-31']);
    expect(ws.getRow(6).values).toEqual([undefined, '生成人', auditor.username]);
    expect(ws.getRow(8).values).toEqual([undefined, '科目代码', '科目名称', '账簿', '借方余额', '贷方余额']);
    const cash = ws.getRows(9, ws.rowCount - 8)!.find((r) => r.getCell(1).value === '1011')!;
    expect(typeof cash.getCell(4).value).toBe('number');
    expect(cash.getCell(4).numFmt).toBe('#,##0.00');
  });

  it('gives an allocation run as CSV under its title block', async () => {
    const fund = await fundFields();
    const [run] = await h.db('allocation_runs').where({ fund_id: fundId }).pluck('id');
    const res = await get(`/api/v1/allocation-runs/${run}/lines.csv`, auditor);
    const text = res.body.toString('utf8');
    expect(text.startsWith(`\uFEFF${fund.name}分配方案（第 ${run} 批）\r\n`)).toBe(true);
    expect(text).toContain(`${unit.code},统计局,10100.00`);
    expect(res.headers['content-disposition']).toContain(encodeURIComponent(`${fund.name}-分配方案第${run}批-2011-09-30.csv`));
  });
});
