import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser, openOwner } from '../support/harness.ts';
import { badSellerTaxId, invoiceNumber, receiptBody } from '../support/receipts.ts';

let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let fundId: string;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, accountant);
});
afterAll(() => h.close());

async function unitWithUser() {
  const d = await makeDepartment(h.db);
  return { ...d, user: await makeUser(h.db, 'department', d.id) };
}
const submit = (deptId: string, user: TestUser, overrides: Record<string, unknown> = {}) =>
  h.api.post(`/api/v1/departments/${deptId}/receipts`).set(user.auth).send(receiptBody(fundId, overrides));

describe('submitting receipts', () => {
  it('records a receipt with its lines, submitted by the department', async () => {
    const u = await unitWithUser();
    const res = await submit(u.id, u.user);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.any(String),
      department_id: u.id,
      fund_id: fundId,
      status: 'submitted',
      total: '16409.02',
      seller_tax_id_override: null,
    });
    expect(res.body.lines.map((l: { category: string; licences: number; amount: string }) => `${l.category} ${l.licences} ${l.amount}`)).toEqual([
      'os 20 16000.00',
      'office 20 409.02',
    ]);
    expect(res.body.history).toMatchObject([{ from: null, to: 'submitted', actor_id: u.user.id }]);
  });

  it('names every invalid field at once and stores nothing', async () => {
    const u = await unitWithUser();
    const res = await submit(u.id, u.user, { invoice_code: '12345', issue_date: '2999-01-01', total: '1.00', seller_tax_id: 'NOT-A-CODE' });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['invoice_code', 'issue_date', 'seller_tax_id', 'total']);
    expect(await h.db('receipts').where({ department_id: u.id })).toHaveLength(0);
  });

  it('refuses a failing check character from a department; an accountant may accept it with a reason, which stays visible', async () => {
    const u = await unitWithUser();
    const refused = await submit(u.id, u.user, { seller_tax_id: badSellerTaxId() });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]).toMatchObject({ field: 'seller_tax_id', message: expect.stringContaining('校验位不符') });
    const overrideByUnit = await submit(u.id, u.user, { seller_tax_id: badSellerTaxId(), seller_tax_id_override: '税务登记证原件核对无误' });
    expect(overrideByUnit.body.errors.map((e: { field: string }) => e.field)).toContain('seller_tax_id_override');
    const accepted = await submit(u.id, accountant, { seller_tax_id: badSellerTaxId(), seller_tax_id_override: '税务登记证原件核对无误' });
    expect(accepted.status).toBe(201);
    const seen = await h.api.get(`/api/v1/receipts/${accepted.body.id}`).set(u.user.auth);
    expect(seen.body.seller_tax_id_override).toBe('税务登记证原件核对无误');
  });

  it('lets an invoice be claimed once across departments, without telling another department who holds it', async () => {
    const a = await unitWithUser();
    const b = await unitWithUser();
    const body = { invoice_code: '6500111130', invoice_number: invoiceNumber() };
    expect((await submit(a.id, a.user, body)).status).toBe(201);
    const dup = await submit(b.id, b.user, { ...body, invoice_number: ` ${body.invoice_number.slice(0, 4)}-${body.invoice_number.slice(4)} ` });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('DUPLICATE_INVOICE');
    expect(dup.body.detail).not.toMatch(/申报）/);
    expect(JSON.stringify(dup.body)).not.toContain(a.name);
    const toAccountant = await submit(b.id, accountant, body);
    expect(toAccountant.body.detail).toContain(`由${a.name}（${a.code}）申报`);
  });

  it('gives one 201 and one 409 when two departments submit the same invoice at the same moment', async () => {
    const a = await unitWithUser();
    const b = await unitWithUser();
    const same = { invoice_code: '6500111131', invoice_number: invoiceNumber() };
    const results = await Promise.all([submit(a.id, a.user, same), submit(b.id, b.user, same)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('frees an invoice when its claim is withdrawn', async () => {
    const u = await unitWithUser();
    const body = { invoice_code: '6500111132', invoice_number: invoiceNumber() };
    const first = await submit(u.id, u.user, body);
    expect((await h.api.post(`/api/v1/receipts/${first.body.id}/withdraw`).set(u.user.auth).send({})).body.status).toBe('withdrawn');
    expect((await submit(u.id, u.user, body)).status).toBe(201);
  });

  it("hides another department's receipts: submit, read, list, withdraw and attach are 404 or absent", async () => {
    const a = await unitWithUser();
    const b = await unitWithUser();
    const receipt = (await submit(a.id, a.user)).body;
    expect((await submit(a.id, b.user)).status).toBe(404);
    expect((await h.api.get(`/api/v1/receipts/${receipt.id}`).set(b.user.auth)).status).toBe(404);
    expect((await h.api.post(`/api/v1/receipts/${receipt.id}/withdraw`).set(b.user.auth).send({})).status).toBe(404);
    expect((await h.api.post(`/api/v1/receipts/${receipt.id}/attachments`).set(b.user.auth).attach('file', Buffer.from('%PDF-1.4\n'), 'x.pdf')).status).toBe(
      404,
    );
    const list = await h.api.get(`/api/v1/receipts?department_id=${a.id}`).set(b.user.auth);
    expect(list.body.items).toEqual([]);
    const own = await h.api.get('/api/v1/receipts').set(a.user.auth);
    expect(own.body.items.map((r: { department_id: string }) => r.department_id)).toEqual([a.id]);
  });
});

describe('review', () => {
  it('verifies, then rejects with a reason; each step recorded with who and when', async () => {
    const u = await unitWithUser();
    const r = (await submit(u.id, u.user)).body;
    const verified = await h.api.post(`/api/v1/receipts/${r.id}/verify`).set(accountant.auth).send({});
    expect(verified.body).toMatchObject({ status: 'verified', reviewed_by: accountant.id });
    expect((await h.api.post(`/api/v1/receipts/${r.id}/withdraw`).set(u.user.auth).send({})).status).toBe(409);
    expect((await h.api.post(`/api/v1/receipts/${r.id}/reject`).set(accountant.auth).send({})).status).toBe(422);
    const rejected = await h.api.post(`/api/v1/receipts/${r.id}/reject`).set(accountant.auth).send({ reason: '发票与合同金额不符' });
    expect(rejected.body).toMatchObject({ status: 'rejected', status_reason: '发票与合同金额不符' });
    expect(rejected.body.history.map((e: { from: string | null; to: string }) => `${e.from}→${e.to}`)).toEqual([
      'null→submitted',
      'submitted→verified',
      'verified→rejected',
    ]);
    expect((await h.api.post(`/api/v1/receipts/${r.id}/verify`).set(accountant.auth).send({})).status).toBe(409);
  });

  it('filters the list by fund, status and date for an auditor', async () => {
    const u = await unitWithUser();
    const r = (await submit(u.id, u.user, { issue_date: '2011-07-01' })).body;
    await h.api.post(`/api/v1/receipts/${r.id}/verify`).set(accountant.auth).send({});
    const list = await h.api.get(`/api/v1/receipts?fund_id=${fundId}&department_id=${u.id}&status=verified&from=2011-07-01&to=2011-07-01`).set(auditor.auth);
    expect(list.body.items.map((x: { id: string }) => x.id)).toEqual([r.id]);
  });

  it('refuses to change what a receipt claims, even by direct SQL', async () => {
    const u = await unitWithUser();
    const r = (await submit(u.id, u.user)).body;
    await expect(h.db('receipts').where({ id: r.id }).update({ total: '1.00' })).rejects.toThrow(/never edited/);
    await expect(h.db('receipt_lines').where({ receipt_id: r.id }).update({ amount: '1.00' })).rejects.toThrow(/permission denied/);
    const owner = openOwner();
    try {
      await expect(owner('receipt_lines').where({ receipt_id: r.id }).update({ amount: '1.00' })).rejects.toThrow(/append-only/);
    } finally {
      await owner.destroy();
    }
    await expect(h.db('receipts').where({ id: r.id }).update({ status: 'submitted' })).rejects.toThrow(/cannot go from submitted to submitted/);
  });
});

describe('bulk import', () => {
  const header = 'department_code,invoice_kind,invoice_code,invoice_number,issue_date,seller_name,seller_tax_id,total,product,category,licences,amount';

  it('imports receipts from CSV, one row per line, grouped by invoice', async () => {
    const a = await makeDepartment(h.db);
    const b = await makeDepartment(h.db);
    const n1 = invoiceNumber();
    const n2 = invoiceNumber();
    const tax = receiptBody(fundId).seller_tax_id;
    const csv = [
      header,
      `${a.code},vat_ordinary,6500111140,${n1},2011-08-01,甲公司,${tax},1500.00,Windows 7,os,2,1000.00`,
      `${a.code},vat_ordinary,6500111140,${n1},2011-08-01,甲公司,${tax},1500.00,Office 2010,office,1,500.00`,
      `${b.code},vat_special,6500111141,${n2},2011-08-02,乙公司,${tax},80.00,瑞星杀毒,antivirus,1,80.00`,
    ].join('\n');
    const res = await h.api.post(`/api/v1/funds/${fundId}/receipts/import`).set(accountant.auth).set('Content-Type', 'text/csv').send(csv);
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(2);
    const first = await h.api.get(`/api/v1/receipts/${res.body.receipt_ids[0]}`).set(auditor.auth);
    expect(first.body).toMatchObject({ department_id: a.id, total: '1500.00' });
    expect(first.body.lines).toHaveLength(2);
  });

  it('imports from XLSX', async () => {
    const a = await makeDepartment(h.db);
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('发票');
    ws.addRow(header.split(','));
    ws.addRow([
      a.code,
      'vat_special',
      '6500111142',
      invoiceNumber(),
      '2011-08-03',
      '丙公司',
      receiptBody(fundId).seller_tax_id,
      '600.00',
      'Office',
      'office',
      1,
      '600.00',
    ]);
    const bytes = Buffer.from(await wb.xlsx.writeBuffer());
    const res = await h.api
      .post(`/api/v1/funds/${fundId}/receipts/import`)
      .set(accountant.auth)
      .set('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .serialize((x: Buffer) => x as unknown as string)
      .send(bytes);
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(1);
  });

  it('refuses the whole file when a row is bad, naming each row', async () => {
    const a = await makeDepartment(h.db);
    const tax = receiptBody(fundId).seller_tax_id;
    const csv = [
      header,
      `${a.code},vat_special,6500111150,${invoiceNumber()},2011-08-01,甲公司,${tax},10.00,A,os,1,10.00`,
      `${a.code},vat_special,6500111151,${invoiceNumber()},2011-08-01,甲公司,${tax},99.00,B,os,1,10.00`,
      `NOSUCH${unique('')},vat_special,6500111152,${invoiceNumber()},2011-08-01,甲公司,${tax},10.00,C,games,1,10.00`,
    ].join('\n');
    const before = await h.db('receipts').count<{ n: string }[]>('* as n');
    const res = await h.api.post(`/api/v1/funds/${fundId}/receipts/import`).set(accountant.auth).set('Content-Type', 'text/csv').send(csv);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('CSV_INVALID');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['row 3', 'row 4', 'row 4']);
    expect(await h.db('receipts').count<{ n: string }[]>('* as n')).toEqual(before);
  });
});
