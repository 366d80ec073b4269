import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfToken } from '../../server/ui/session.ts';
import { makeDepartment, makeFund, makeUser, openHarness, openOwner, type Harness, type TestUser } from '../support/harness.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let accountant: TestUser;
let fundId: string;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  fundId = await makeFund(h, accountant);
});
afterAll(() => h.close());

async function unitWithUser() {
  const d = await makeDepartment(h.db, { name: '自治区测试厅' });
  return { ...d, user: await makeUser(h.db, 'department', d.id) };
}
const submit = (deptId: string, user: TestUser, overrides: Record<string, unknown> = {}) =>
  h.api.post(`/api/v1/departments/${deptId}/receipts`).set(user.auth).send(receiptBody(fundId, overrides));

describe('税额, 价税合计 and 购买方 on a receipt', () => {
  it('keeps the tax and buyer and answers 价税合计 = 金额合计 + 税额', async () => {
    const u = await unitWithUser();
    const res = await submit(u.id, u.user, { tax_amount: '2789.53', total_with_tax: '19198.55', buyer_name: '自治区测试厅' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ total: '16409.02', tax_amount: '2789.53', total_with_tax: '19198.55', buyer_name: '自治区测试厅' });
    const read = await h.api.get(`/api/v1/receipts/${res.body.id}`).set(accountant.auth);
    expect(read.body).toMatchObject({ tax_amount: '2789.53', total_with_tax: '19198.55' });
  });

  it('takes no tax as 0.00 (an invoice without tax, or a client that predates the fields)', async () => {
    const u = await unitWithUser();
    const res = await submit(u.id, u.user);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ tax_amount: '0.00', total_with_tax: '16409.02', buyer_name: null });
  });

  it('refuses a 价税合计 that is not the sum, and a tax amount the strict parser does not read, storing nothing', async () => {
    const u = await unitWithUser();
    const wrong = await submit(u.id, u.user, { tax_amount: '2789.53', total_with_tax: '19198.56' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ field: 'total_with_tax', message: expect.stringContaining('19198.55') })]);
    expect(wrong.body.detail).toContain('价税合计');
    for (const tax_amount of ['2,789.53', '-1.00', '1.001', '２７８９．５３']) {
      const res = await submit(u.id, u.user, { tax_amount });
      expect(res.status, tax_amount).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('tax_amount');
    }
    expect(await h.db('receipts').where({ department_id: u.id })).toHaveLength(0);
  });

  it('keeps 价税合计 in the database: it is generated from the figures, and tax and buyer never change after submission', async () => {
    const u = await unitWithUser();
    const r = (await submit(u.id, u.user, { tax_amount: '100.00' })).body;
    await expect(h.db('receipts').where({ id: r.id }).update({ tax_amount: '0.00' })).rejects.toThrow(/never edited/);
    await expect(h.db('receipts').where({ id: r.id }).update({ buyer_name: '别的单位' })).rejects.toThrow(/never edited/);
    const owner = openOwner();
    try {
      await expect(owner('receipts').where({ id: r.id }).update({ total_with_tax: '1.00' })).rejects.toThrow(/generated column|can only be updated to DEFAULT/);
      await expect(owner('receipts').where({ id: r.id }).update({ tax_amount: '-1.00' })).rejects.toThrow(/check constraint|never edited/);
    } finally {
      await owner.destroy();
    }
    const row = await h.db('receipts').where({ id: r.id }).first('total', 'tax_amount', 'total_with_tax');
    expect(row).toEqual({ total: '16409.02', tax_amount: '100.00', total_with_tax: '16509.02' });
  });
});

describe('the receipt form on the pages', () => {
  const cookie = (u: TestUser) => `jb_session=${u.token}`;

  it('prefills 购买方 with the unit and offers 金额 / 税额 / 价税合计, each with a label', async () => {
    const u = await unitWithUser();
    const page = await h.api.get('/my').set('Cookie', cookie(u.user));
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<label>购买方名称 <input name="buyer_name" value="自治区测试厅"/);
    for (const label of ['金额合计（元）', '税额（元', '价税合计（元']) expect(page.text).toContain(`<label>${label}`);
    expect(page.text).toContain('aria-label="第 1 行 金额（元）"');
  });

  it('accepts amounts typed with thousands separators and full-width digits, and stores the exact figures', async () => {
    const u = await unitWithUser();
    const res = await h.api
      .post(`/departments/${u.id}/receipts`)
      .set('Cookie', cookie(u.user))
      .type('form')
      .send(
        new URLSearchParams([
          ['_csrf', csrfToken(u.user.token)],
          ['fund_id', fundId],
          ['invoice_kind', 'vat_special'],
          ['invoice_code', '6500111140'],
          ['invoice_number', String(10_000_000 + Math.floor(Math.random() * 89_999_999))],
          ['issue_date', '2011-08-15'],
          ['buyer_name', '自治区测试厅'],
          ['seller_name', '新疆某某软件有限公司'],
          ['seller_tax_id', receiptBody(fundId).seller_tax_id],
          ['line_product', 'Windows 7 专业版'],
          ['line_category', 'os'],
          ['line_licence_kind', 'retail'],
          ['line_licences', '20'],
          ['line_amount', '１２，０００．００'],
          ['line_product', 'Office 2010'],
          ['line_category', 'office'],
          ['line_licence_kind', 'retail'],
          ['line_licences', '20'],
          ['line_amount', '4,409.02'],
          ['total', '16,409.02'],
          ['tax_amount', '２，７８９．５３'],
          ['total_with_tax', '¥19,198.55'],
        ]).toString(),
      );
    expect(res.status).toBe(303);
    const id = /\/receipts\/(\d+)$/.exec(res.headers.location!)![1];
    const stored = await h.api.get(`/api/v1/receipts/${id}`).set(accountant.auth);
    expect(stored.body).toMatchObject({ total: '16409.02', tax_amount: '2789.53', total_with_tax: '19198.55', buyer_name: '自治区测试厅' });
    expect(stored.body.lines.map((l: { amount: string }) => l.amount)).toEqual(['12000.00', '4409.02']);
  });

  it('marks a wrong 价税合计 aria-invalid with its message next to it, and stores nothing', async () => {
    const u = await unitWithUser();
    const b = receiptBody(fundId);
    const res = await h.api
      .post(`/departments/${u.id}/receipts`)
      .set('Cookie', cookie(u.user))
      .type('form')
      .send(
        new URLSearchParams([
          ['_csrf', csrfToken(u.user.token)],
          ['fund_id', fundId],
          ['invoice_kind', 'vat_special'],
          ['invoice_code', b.invoice_code],
          ['invoice_number', b.invoice_number],
          ['issue_date', '2011-08-15'],
          ['seller_name', b.seller_name],
          ['seller_tax_id', b.seller_tax_id],
          ['line_product', 'Windows 7'],
          ['line_category', 'os'],
          ['line_licences', '1'],
          ['line_amount', '1,000.00'],
          ['total', '1,000.00'],
          ['tax_amount', '130.00'],
          ['total_with_tax', '1,131.00'],
        ]).toString(),
      );
    expect(res.status).toBe(422);
    expect(res.text).toMatch(/<input aria-invalid="true" aria-describedby="error-total_with_tax"[^>]* name="total_with_tax"/);
    expect(res.text).toMatch(
      /<span class="field-error" data-error-for="total_with_tax" id="error-total_with_tax" role="alert">价税合计须等于金额与税额之和 1130.00/,
    );
    expect(await h.db('receipts').where({ department_id: u.id })).toHaveLength(0);
  });
});

describe('upload forms carry the CSRF token in the body, never in the URL', () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

  it('renders upload forms with a hidden field first and no token in the action', async () => {
    const u = await unitWithUser();
    const r = (await submit(u.id, u.user)).body;
    const page = await h.api.get(`/receipts/${r.id}`).set('Cookie', `jb_session=${u.user.token}`);
    expect(page.text).toContain(`<form method="post" action="/receipts/${r.id}/attachments" enctype="multipart/form-data"><input type="hidden" name="_csrf"`);
    expect(page.text).not.toContain('_csrf=');
  });

  it('refuses an upload whose token rides in the URL or is missing, keeping no file; accepts the token as the first field', async () => {
    const u = await unitWithUser();
    const r = (await submit(u.id, u.user)).body;
    const token = csrfToken(u.user.token);
    const inUrl = await h.api
      .post(`/receipts/${r.id}/attachments?_csrf=${encodeURIComponent(token)}`)
      .set('Cookie', `jb_session=${u.user.token}`)
      .attach('file', png, 'scan.png');
    // The page answers with the receipt again and the refusal next to the upload field.
    expect(inUrl.status).toBe(422);
    expect(inUrl.text).toContain('CSRF 校验失败');
    const wrong = await h.api
      .post(`/receipts/${r.id}/attachments`)
      .set('Cookie', `jb_session=${u.user.token}`)
      .field('_csrf', 'forged')
      .attach('file', png, 'scan.png');
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('CSRF 校验失败');
    expect(await h.db('attachments').where({ receipt_id: r.id })).toHaveLength(0);
    const ok = await h.api
      .post(`/receipts/${r.id}/attachments`)
      .set('Cookie', `jb_session=${u.user.token}`)
      .field('_csrf', token)
      .attach('file', png, 'scan.png');
    expect(ok.status).toBe(303);
    expect(await h.db('attachments').where({ receipt_id: r.id })).toHaveLength(1);
  });
});

describe('where am I: the current page, tab and filter are marked', () => {
  it('marks the navigation link, the fund tab and the receipt filter being shown, and says when a list is empty', async () => {
    const cookie = `jb_session=${accountant.token}`;
    const journal = await h.api.get(`/funds/${fundId}/journal`).set('Cookie', cookie);
    expect(journal.text).toContain('<a href="/funds" aria-current="page">资金</a>');
    expect(journal.text).toContain(`<a class="tab" href="/funds/${fundId}/journal" aria-current="page">`);
    expect(journal.text.match(/aria-current="page"/g)).toHaveLength(2);
    const rejected = await h.api.get(`/receipts?status=rejected&q=${encodeURIComponent('没有这个单位')}`).set('Cookie', cookie);
    expect(rejected.text).toContain('<a href="?status=rejected" aria-current="true">已退回</a>');
    expect(rejected.text).toContain('<a href="/receipts" aria-current="page">发票审核</a>');
    expect(rejected.text).toMatch(/<td colspan="6" class="empty">没有已退回的发票（查找“没有这个单位”）。<\/td>/);
  });
});
