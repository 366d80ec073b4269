import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';
import { invoiceNumber, receiptBody } from '../support/receipts.ts';

let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
let fundId: string;
/** Units whose one verified receipt has n lines, n around the count where the totals reach the page's end. */
const units = new Map<number, { id: string; name: string }>();
let digitalInvoice: string;

const get = (path: string, user: TestUser) => h.api.get(path).set(user.auth).buffer(true).parse(binaryParser);
const flat = (s: string) => s.replace(/\s+/g, '');
const allText0 = async (res: { body: Buffer }) => flat((await pdfText(res.body)).join(''));

beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, maker, '1000000.00');
  await makeDepartment(h.db, { name: '无款项单位' });
  await h.api
    .put(`/api/v1/funds/${fundId}/policy`)
    .set(maker.auth)
    .send({ rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' }, licence_caps: {}, require_completed: true });
  for (let n = 34; n <= 46; n++) {
    const d = await makeDepartment(h.db, { name: `测试单位${n}行` });
    await h.api
      .put(`/api/v1/departments/${d.id}/status`)
      .set(maker.auth)
      .send({ status: 'completed', effective_date: '2011-08-01', accepted_on: '2011-08-20' });
    const lines = Array.from({ length: n }, (_, i) => ({ product: `正版软件授权 ${i + 1}`, category: 'other', licences: 1, amount: '100.00' }));
    const digital = n === 40;
    if (digital) digitalInvoice = `${invoiceNumber()}${invoiceNumber()}${invoiceNumber().slice(0, 4)}`;
    const body = receiptBody(fundId, {
      lines,
      total: `${n * 100}.00`,
      ...(digital ? { invoice_kind: 'digital', invoice_code: undefined, invoice_number: digitalInvoice } : {}),
    });
    const r = await h.api.post(`/api/v1/departments/${d.id}/receipts`).set(maker.auth).send(body);
    expect(r.status).toBe(201);
    await h.api.post(`/api/v1/receipts/${r.body.id}/verify`).set(maker.auth).send({});
    units.set(n, d);
  }
  const run = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: '2011-09-30' });
  expect((await h.api.post(`/api/v1/allocation-runs/${run.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
  const forty = units.get(40)!;
  const pay = await h.api
    .post(`/api/v1/funds/${fundId}/disbursements`)
    .set(maker.auth)
    .send({ department_id: forty.id, amount: '1000.00', voucher_no: unique('付'), date: '2011-10-08' });
  await h.api.post(`/api/v1/disbursements/${pay.body.id}/approve`).set(checker.auth).send({});
});
afterAll(() => h.close());

describe('the statement as a finance office issues it', () => {
  it('is addressed to the unit (主送) and signed off by the office (落款) with a place for its seal', async () => {
    const d = units.get(40)!;
    const res = await get(`/api/v1/funds/${fundId}/departments/${d.id}/statement.pdf`, auditor);
    const pages = await pdfText(res.body);
    expect(flat(pages[0]!)).toContain(`主送：${d.name}`);
    const last = flat(pages.at(-1)!);
    expect(last).toContain('自治区财政厅');
    expect(last).toContain('（盖章处）');
    const issued = await h.db('statements').where({ statement_no: res.headers['x-statement-no'] }).first('issued_at');
    const today = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(
      issued.issued_at,
    );
    const part = (t: string) => today.find((p) => p.type === t)!.value;
    expect(last).toContain(`${part('year')}年${Number(part('month'))}月${Number(part('day'))}日`);
  });

  it('prints on the signature lines who prepared (制单) and approved (审核) what it shows, and leaves 会计主管 to be signed', async () => {
    const res = await get(`/api/v1/funds/${fundId}/departments/${units.get(40)!.id}/statement.pdf`, auditor);
    const last = flat((await pdfText(res.body)).at(-1)!);
    // The run and the payment were both prepared by `maker` and approved by `checker`: each named once.
    expect(last).toContain(`制单：${maker.username}审核：${checker.username}会计主管：`);
  });

  it('keeps the signature block on the page of the totals, for 34 to 46 receipt lines (40 among them)', async () => {
    for (const [n, d] of units) {
      const res = await get(`/api/v1/funds/${fundId}/departments/${d.id}/statement.pdf`, auditor);
      const pages = (await pdfText(res.body)).map(flat);
      const totals = pages.findIndex((p) => p.includes('四、合计'));
      const signatures = pages.findIndex((p) => p.includes('会计主管：'));
      expect(totals, `${n} lines`).toBeGreaterThanOrEqual(0);
      expect(signatures, `${n} lines: signatures on page ${signatures + 1}, totals on page ${totals + 1}`).toBe(totals);
      expect(pages[totals], `${n} lines`).toContain('应付未付');
      expect(pages[totals], `${n} lines`).toContain('（盖章处）');
    }
  });

  it('never breaks an invoice number inside its cell: a 20-digit 数电票 number is one line of text', async () => {
    const res = await get(`/api/v1/funds/${fundId}/departments/${units.get(40)!.id}/statement.pdf`, auditor);
    const text = (await pdfText(res.body)).join('\n');
    expect(text).toContain(digitalInvoice);
  });
});

describe('the fund summary as a finance office issues it', () => {
  it('has an 应收回 column, the signatures with names, and the 落款', async () => {
    const res = await get(`/api/v1/funds/${fundId}/summary.pdf`, auditor);
    expect(res.status).toBe(200);
    const pages = (await pdfText(res.body)).map(flat);
    expect(pages.join('')).toContain('应付未付应收回');
    const last = pages.at(-1)!;
    expect(last).toContain(`制单：${maker.username}审核：${checker.username}会计主管：`);
    expect(last).toContain('自治区财政厅');
    expect(last).toContain('合计');
  });

  it("draws the fund chart with its caption on one page, and its totals are the fund's own figures", async () => {
    const res = await get(`/api/v1/funds/${fundId}/summary.pdf`, auditor);
    const fund = (await h.api.get(`/api/v1/funds/${fundId}`).set(auditor.auth)).body;
    const pages = (await pdfText(res.body)).map(flat);
    const caption = '图1资金拨款、分配、拨付与可分配余额（万元）';
    const page = pages.find((p) => p.includes(caption));
    expect(page).toBeDefined();
    // The chart's own bar names stand on the caption's page, above it: the picture was not split from its caption.
    expect(page!.slice(0, page!.indexOf(caption))).toMatch(/财政拨款已分配已拨付可分配余额/);
    // The bars carry their figures, in 万元.
    const wan = (yuan: string) => (Number(yuan) / 10000).toLocaleString('zh-CN', { minimumFractionDigits: 2 });
    expect(page!.slice(0, page!.indexOf(caption))).toContain(wan(fund.appropriated));
    const sep = (yuan: string) => Number(yuan).toLocaleString('en-US', { minimumFractionDigits: 2 });
    const totals = pages[0]!;
    expect(totals).toContain(`财政拨款${sep(fund.appropriated)}`);
    expect(totals).toContain(`已分配${sep(fund.allocated)}`);
    expect(totals).toContain(`已拨付${sep(fund.disbursed)}`);
    expect(totals).toContain(`可分配余额${sep(fund.available_to_allocate)}`);
  });

  it('can leave out the units with nothing, saying how many, while the totals still count every unit', async () => {
    const all = await get(`/api/v1/funds/${fundId}/summary.pdf`, auditor);
    const some = await get(`/api/v1/funds/${fundId}/summary.pdf?omit_empty=1`, auditor);
    expect(some.status).toBe(200);
    expect(some.headers['x-statement-no']).not.toBe(all.headers['x-statement-no']);
    const text = flat((await pdfText(some.body)).join(''));
    const everyone = Number((await h.db('departments').count('* as n').first())!.n);
    // Other test files add units to the shared database meanwhile: at least ours are listed, and the rest are counted.
    const leftOut = Number(/另有(\d+)个单位无分配、拨付、应付或应收回款项，未列出/.exec(text)?.[1]);
    expect(leftOut).toBeGreaterThan(0);
    expect(leftOut).toBeLessThanOrEqual(everyone - units.size);
    for (const d of units.values()) expect(text).toContain(d.name);
    expect(text).not.toContain('无款项单位');
    expect(await allText0(all)).toContain('无款项单位');
    const allText = await allText0(all);
    const totalRow = (t: string) => /合计(\d[\d,]*\.\d\d)(\d[\d,]*\.\d\d)(\d[\d,]*\.\d\d)(\d[\d,]*\.\d\d)/.exec(t.slice(t.lastIndexOf('合计')))?.slice(1);
    expect(totalRow(text)).toEqual(totalRow(allText));
    expect((await h.api.get(`/api/v1/funds/${fundId}/summary.pdf?omit_empty=yes`).set(auditor.auth)).status).toBe(422);
  });
});
