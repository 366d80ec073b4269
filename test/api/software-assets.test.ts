import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { todayInShanghai } from '../../server/http/schemas.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser, asOwner } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let inspector: TestUser;
let fundId: string;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  inspector = await makeUser(h.db, 'inspector');
  fundId = await makeFund(h, accountant);
});
afterAll(() => h.close());

const scan = () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(`licence certificate ${Math.random()}`)]);

async function unit(fields: { group?: string } = {}) {
  const d = await makeDepartment(h.db, fields);
  return { ...d, user: await makeUser(h.db, 'department', d.id) };
}

type Line = { product: string; category: string; licences: number; amount: string; licence_kind?: string };

async function submit(u: { id: string; user: TestUser }, lines: Line[]) {
  const total = lines.reduce((s, l) => s + Math.round(Number(l.amount) * 100), 0);
  const res = await h.api
    .post(`/api/v1/departments/${u.id}/receipts`)
    .set(u.user.auth)
    .send(receiptBody(fundId, { lines, total: (total / 100).toFixed(2) }));
  expect(res.status).toBe(201);
  return String(res.body.id);
}

const register = async (departmentId: string, user: TestUser = auditor, query = '') =>
  (await h.api.get(`/api/v1/departments/${departmentId}/software-assets${query}`).set(user.auth)).body;

async function verifiedAssets(u: { id: string; user: TestUser }, lines: Line[]) {
  const receiptId = await submit(u, lines);
  expect((await h.api.post(`/api/v1/receipts/${receiptId}/verify`).set(accountant.auth).send({})).status).toBe(200);
  return { receiptId, assets: (await register(u.id)).items as Array<{ id: string; product: string; licences: number }> };
}

describe('the register follows verification', () => {
  it("puts each line of a receipt into its unit's register when it is verified, and only then", async () => {
    const u = await unit();
    const receiptId = await submit(u, [
      { product: 'Windows 7 专业版', category: 'os', licences: 20, amount: '16000.00', licence_kind: 'oem' },
      { product: 'Office 2010 标准版', category: 'office', licences: 20, amount: '409.02' },
    ]);
    expect((await register(u.id)).items).toEqual([]);
    await h.api.post(`/api/v1/receipts/${receiptId}/verify`).set(accountant.auth).send({});
    const items = (await register(u.id, u.user)).items;
    expect(
      items.map((a: Record<string, unknown>) => [
        a.product,
        a.category,
        a.licences,
        a.licence_kind,
        a.acquired_on,
        a.value,
        a.source,
        a.receipt_id,
        a.receipt_line_no,
        a.status,
      ]),
    ).toEqual([
      ['Windows 7 专业版', 'os', 20, 'oem', '2011-08-15', '16000.00', 'receipt', receiptId, 1, 'in_use'],
      ['Office 2010 标准版', 'office', 20, 'retail', '2011-08-15', '409.02', 'receipt', receiptId, 2, 'in_use'],
    ]);
    const audit = await h.db('audit_log').where({ action: 'asset.register_from_receipt', object_id: receiptId }).first('after');
    expect(audit.after.added).toEqual(items.map((a: { id: string }) => a.id));
  });

  it('a rejected or withdrawn receipt never enters the register', async () => {
    const u = await unit();
    const rejected = await submit(u, [{ product: 'WPS Office', category: 'office', licences: 5, amount: '500.00' }]);
    await h.api.post(`/api/v1/receipts/${rejected}/reject`).set(accountant.auth).send({ reason: '发票与采购合同不符' });
    const withdrawn = await submit(u, [{ product: 'WPS Office', category: 'office', licences: 5, amount: '500.00' }]);
    await h.api.post(`/api/v1/receipts/${withdrawn}/withdraw`).set(u.user.auth).send({});
    expect((await register(u.id)).items).toEqual([]);
  });

  it('rejecting a verified receipt later marks its lines revoked, not deleted', async () => {
    const u = await unit();
    const { receiptId, assets } = await verifiedAssets(u, [{ product: '瑞星杀毒', category: 'antivirus', licences: 8, amount: '784.00' }]);
    await h.api.post(`/api/v1/receipts/${receiptId}/reject`).set(accountant.auth).send({ reason: '事后核查发现为盗版授权' });
    const [asset] = (await register(u.id)).items;
    expect(asset).toMatchObject({ id: assets[0]!.id, status: 'revoked', licences_in_use: 0 });
    expect(asset.status_reason).toMatch(/退回/);
  });

  it('pages through a long register with limit and cursor', async () => {
    const u = await unit();
    await verifiedAssets(
      u,
      Array.from({ length: 5 }, (_, i) => ({ product: `软件 ${i + 1}`, category: 'other', licences: 1, amount: '10.00' })),
    );
    const first = await register(u.id, auditor, '?limit=2');
    const second = await register(u.id, auditor, `?limit=2&cursor=${first.next_cursor}`);
    const third = await register(u.id, auditor, `?limit=2&cursor=${second.next_cursor}`);
    expect([...first.items, ...second.items, ...third.items].map((a: { product: string }) => a.product)).toEqual([
      '软件 1',
      '软件 2',
      '软件 3',
      '软件 4',
      '软件 5',
    ]);
    expect(third.next_cursor).toBeNull();
    expect((await h.api.get(`/api/v1/departments/${u.id}/software-assets?limit=0`).set(auditor.auth)).status).toBe(422);
  });

  it("is another unit's business: 404", async () => {
    const mine = await unit();
    const other = await unit();
    const { assets } = await verifiedAssets(other, [{ product: 'Windows 7', category: 'os', licences: 2, amount: '1640.00' }]);
    expect((await h.api.get(`/api/v1/departments/${other.id}/software-assets`).set(mine.user.auth)).status).toBe(404);
    expect((await h.api.get(`/api/v1/software-assets/${assets[0]!.id}`).set(mine.user.auth)).status).toBe(404);
    expect((await h.api.post(`/api/v1/software-assets/${assets[0]!.id}/retire`).set(mine.user.auth).send({ date: '2012-01-05', reason: '报废' })).status).toBe(
      404,
    );
    expect((await h.api.get(`/api/v1/departments/${other.id}/software-assets.csv`).set(mine.user.auth)).status).toBe(404);
  });

  it('the database refuses to delete or rewrite a register line', async () => {
    const u = await unit();
    const { assets } = await verifiedAssets(u, [{ product: 'Windows 7', category: 'os', licences: 2, amount: '1640.00' }]);
    await expect(h.db('software_assets').where({ id: assets[0]!.id }).delete()).rejects.toThrow(/permission denied/);
    await expect(asOwner((o) => o('software_assets').where({ id: assets[0]!.id }).delete())).rejects.toThrow(/append-only/);
    await expect(h.db('software_assets').where({ id: assets[0]!.id }).update({ licences: 200 })).rejects.toThrow(/never edited/);
    await expect(asOwner((o) => o.raw('TRUNCATE software_assets CASCADE'))).rejects.toThrow(/append-only/);
    expect((await h.db('software_assets').where({ id: assets[0]!.id }).first('licences')).licences).toBe(2);
    // Nor can its state go back, or a retirement be undone.
    await h.api.post(`/api/v1/software-assets/${assets[0]!.id}/retire`).set(accountant.auth).send({ date: '2012-01-05', reason: '报废' });
    await expect(h.db('software_assets').where({ id: assets[0]!.id }).update({ status: 'in_use', retired_licences: 0 })).rejects.toThrow(/never edited/);
    await expect(asOwner((o) => o('asset_retirements').where({ asset_id: assets[0]!.id }).delete())).rejects.toThrow(/append-only/);
    // A receipt asset needs its receipt line; a pre-programme one counts only once reviewed.
    const base = {
      department_id: u.id,
      product: 'X',
      category: 'os',
      licences: 1,
      licence_kind: 'retail',
      acquired_on: '2011-01-01',
      value: '1.00',
      created_by: accountant.id,
    };
    await expect(h.db('software_assets').insert({ ...base, source: 'receipt', status: 'in_use' })).rejects.toThrow(/software_assets_source_link/);
    await expect(h.db('software_assets').insert({ ...base, source: 'pre_programme', status: 'in_use' })).rejects.toThrow(/software_assets_reviewed/);
  });
});

describe('licence kinds', () => {
  const header = 'department_code,invoice_kind,invoice_code,invoice_number,issue_date,seller_name,seller_tax_id,total,product,category,licences,amount';

  it('a bulk import may give each line its licence kind in an optional last column; absent, a line is retail', async () => {
    const u = await unit();
    const n = String(Math.floor(10_000_000 + Math.random() * 89_999_999));
    const tax = receiptBody(fundId).seller_tax_id;
    const csv = [
      `${header},licence_kind`,
      `${u.code},vat_ordinary,6500111140,${n},2011-08-01,甲公司,${tax},1500.00,Windows 7,os,2,1000.00,volume`,
      `${u.code},vat_ordinary,6500111140,${n},2011-08-01,甲公司,${tax},1500.00,Office 2010,office,1,500.00,`,
    ].join('\n');
    const res = await h.api.post(`/api/v1/funds/${fundId}/receipts/import`).set(accountant.auth).set('Content-Type', 'text/csv').send(csv);
    expect(res.status).toBe(201);
    const receipt = await h.api.get(`/api/v1/receipts/${res.body.receipt_ids[0]}`).set(auditor.auth);
    expect(receipt.body.lines.map((l: { licence_kind: string }) => l.licence_kind)).toEqual(['volume', 'retail']);
    const bad = csv
      .replace(',volume', ',pirated')
      .replace(`,${n},`, `,${Number(n) + 1},`)
      .replace(`,${n},`, `,${Number(n) + 1},`);
    expect((await h.api.post(`/api/v1/funds/${fundId}/receipts/import`).set(accountant.auth).set('Content-Type', 'text/csv').send(bad)).status).toBe(422);
  });

  it('a receipt line with an unknown licence kind is refused with 422', async () => {
    const u = await unit();
    const res = await h.api
      .post(`/api/v1/departments/${u.id}/receipts`)
      .set(u.user.auth)
      .send(
        receiptBody(fundId, {
          lines: [{ product: 'Windows 7', category: 'os', licences: 1, amount: '820.00', licence_kind: 'cracked' }],
          total: '820.00',
        }),
      );
    expect(res.status).toBe(422);
    expect(res.body.errors[0].field).toBe('lines.0.licence_kind');
  });
});

describe('pre-programme licences', () => {
  const body = { product: 'Windows XP 专业版（原有）', category: 'os', licences: 12, licence_kind: 'oem', acquired_on: '2009-03-01', value: '0.00' };

  it('wait for an accountant to review their scan before they count', async () => {
    const u = await unit();
    const added = await h.api.post(`/api/v1/departments/${u.id}/software-assets`).set(u.user.auth).send(body);
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ source: 'pre_programme', status: 'pending', licences_in_use: 0 });
    const id = added.body.id;
    const noScan = await h.api.post(`/api/v1/software-assets/${id}/verify`).set(accountant.auth).send({});
    expect(noScan.status).toBe(409);
    expect(noScan.body.detail).toMatch(/扫描件/);
    expect((await h.api.post(`/api/v1/software-assets/${id}/verify`).set(u.user.auth).send({})).status).toBe(403);
    expect((await h.api.post(`/api/v1/software-assets/${id}/attachments`).set(u.user.auth).attach('file', scan(), 'licence.png')).status).toBe(201);
    const verified = await h.api.post(`/api/v1/software-assets/${id}/verify`).set(accountant.auth).send({});
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ status: 'in_use', licences_in_use: 12, reviewed_by: accountant.id });
    expect((await h.api.post(`/api/v1/software-assets/${id}/attachments`).set(u.user.auth).attach('file', scan(), 'late.png')).status).toBe(409);
    const detail = await h.api.get(`/api/v1/software-assets/${id}`).set(inspector.auth);
    expect(detail.body.attachments).toHaveLength(1);
  });

  it('an accountant may refuse one with the reason; refused is final', async () => {
    const u = await unit();
    const { body: asset } = await h.api.post(`/api/v1/departments/${u.id}/software-assets`).set(accountant.auth).send(body);
    expect((await h.api.post(`/api/v1/software-assets/${asset.id}/reject`).set(accountant.auth).send({})).status).toBe(422);
    const rejected = await h.api.post(`/api/v1/software-assets/${asset.id}/reject`).set(accountant.auth).send({ reason: '无法提供授权证明' });
    expect(rejected.body).toMatchObject({ status: 'rejected', status_reason: '无法提供授权证明' });
    expect((await h.api.post(`/api/v1/software-assets/${asset.id}/verify`).set(accountant.auth).send({})).status).toBe(409);
  });

  it.each([
    ['licences as text', { licences: '12' }],
    ['an unknown licence kind', { licence_kind: 'pirated' }],
    ['a date that does not exist', { acquired_on: '2011-02-30' }],
    ['a date in the future', { acquired_on: '2999-01-01' }],
    ['a value with three decimals', { value: '1.001' }],
  ])('refuses %s with 422 and adds nothing', async (_name, change) => {
    const u = await unit();
    const res = await h.api
      .post(`/api/v1/departments/${u.id}/software-assets`)
      .set(u.user.auth)
      .send({ ...body, ...change });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/[\u4e00-\u9fff]/);
    expect((await register(u.id)).items).toEqual([]);
  });
});

describe('retirement', () => {
  it('takes licences out of use with a date and reason, in part or whole, and keeps the record', async () => {
    const u = await unit();
    const { assets } = await verifiedAssets(u, [{ product: 'Office 2010', category: 'office', licences: 10, amount: '14095.00' }]);
    const id = assets[0]!.id;
    const part = await h.api.post(`/api/v1/software-assets/${id}/retire`).set(u.user.auth).send({ date: '2012-01-05', reason: '计算机报废', licences: 3 });
    expect(part.status).toBe(200);
    expect(part.body).toMatchObject({ status: 'in_use', licences: 10, licences_in_use: 7, retired_licences: 3 });
    expect((await h.api.post(`/api/v1/software-assets/${id}/retire`).set(u.user.auth).send({ date: '2012-01-05', reason: '多报', licences: 8 })).status).toBe(
      422,
    );
    expect((await h.api.post(`/api/v1/software-assets/${id}/retire`).set(u.user.auth).send({ date: '2011-01-01', reason: '早于购置' })).status).toBe(422);
    const whole = await h.api.post(`/api/v1/software-assets/${id}/retire`).set(accountant.auth).send({ date: '2012-02-01', reason: '升级到新版本' });
    expect(whole.body).toMatchObject({ status: 'retired', licences_in_use: 0, retired_licences: 10 });
    expect(whole.body.retirements.map((r: { licences: number; retired_on: string; reason: string }) => [r.licences, r.retired_on, r.reason])).toEqual([
      [3, '2012-01-05', '计算机报废'],
      [7, '2012-02-01', '升级到新版本'],
    ]);
    expect((await h.api.post(`/api/v1/software-assets/${id}/retire`).set(accountant.auth).send({ date: '2012-02-01', reason: '再次' })).status).toBe(409);
    expect(await h.db('audit_log').where({ action: 'asset.retire', object_id: id }).count({ n: '*' }).first()).toEqual({ n: '2' });
  });
});

describe('installed base and compliance', () => {
  it('rates each category as licences in use ÷ computers, capped at 1, four decimals; overall is the lowest', async () => {
    const group = unique('g');
    const u = await unit({ group });
    await verifiedAssets(u, [
      { product: 'Windows 7', category: 'os', licences: 12, amount: '9840.00' },
      { product: 'Office 2010', category: 'office', licences: 2, amount: '2819.00' },
      { product: '瑞星杀毒', category: 'antivirus', licences: 1, amount: '98.00' },
    ]);
    const put = await h.api.put(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth).send({ as_of: '2011-09-01', computers: 3, servers: 1 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ as_of: '2011-09-01', computers: 3, servers: 1 });
    const report = (await h.api.get(`/api/v1/software-assets/compliance?group=${group}`).set(auditor.auth)).body;
    expect(report.items).toHaveLength(1);
    // 12/3 capped at 1; 2/3 = 0.6667 (half up); 1/3 = 0.3333.
    expect(report.items[0]).toMatchObject({ department_id: u.id, computers: 3, os: '1.0000', office: '0.6667', antivirus: '0.3333', overall: '0.3333' });
    expect((await h.api.get(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth)).body).toMatchObject({
      os: '1.0000',
      office: '0.6667',
      overall: '0.3333',
    });
  });

  it('counts a unit with no computers as compliant and one that never reported as unknown; pools a group without letting spares cover another unit', async () => {
    const group = unique('g');
    const none = await unit({ group });
    const silent = await unit({ group });
    const full = await unit({ group });
    const short = await unit({ group });
    await h.api.put(`/api/v1/departments/${none.id}/installed-base`).set(accountant.auth).send({ as_of: '2011-09-01', computers: 0, servers: 0 });
    await verifiedAssets(full, [
      { product: 'Windows 7', category: 'os', licences: 10, amount: '8200.00' },
      { product: 'Office 2010', category: 'office', licences: 10, amount: '14095.00' },
      { product: '瑞星杀毒', category: 'antivirus', licences: 10, amount: '980.00' },
    ]);
    await h.api.put(`/api/v1/departments/${full.id}/installed-base`).set(full.user.auth).send({ as_of: '2011-09-01', computers: 4, servers: 0 });
    await verifiedAssets(short, [
      { product: 'Windows 7', category: 'os', licences: 1, amount: '820.00' },
      { product: 'Office 2010', category: 'office', licences: 6, amount: '8457.00' },
      { product: '瑞星杀毒', category: 'antivirus', licences: 6, amount: '588.00' },
    ]);
    await h.api.put(`/api/v1/departments/${short.id}/installed-base`).set(short.user.auth).send({ as_of: '2011-09-01', computers: 6, servers: 0 });
    const report = (await h.api.get(`/api/v1/software-assets/compliance?group=${group}`).set(inspector.auth)).body;
    const byId = Object.fromEntries(report.items.map((i: { department_id: string }) => [i.department_id, i]));
    expect(byId[none.id]).toMatchObject({ computers: 0, os: '1.0000', office: '1.0000', antivirus: '1.0000', overall: '1.0000' });
    expect(byId[silent.id]).toMatchObject({ computers: null, os: null, overall: null });
    expect(byId[short.id]).toMatchObject({ os: '0.1667', office: '1.0000', overall: '0.1667' });
    // Group: os covers min(10,4) + min(1,6) = 5 of 10 computers; the 6 spare licences of `full` do not count.
    expect(report.by_group[group]).toEqual({ units: 4, reported: 3, computers: 10, os: '0.5000', office: '1.0000', antivirus: '1.0000', overall: '0.5000' });
    expect(report.overall.units).toBeGreaterThanOrEqual(4);
  });

  it('keeps every report: the latest as of a date counts', async () => {
    const u = await unit();
    await h.api.put(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth).send({ as_of: '2011-09-01', computers: 30, servers: 2 });
    await h.api.put(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth).send({ as_of: '2011-06-01', computers: 25, servers: 2 });
    expect((await h.api.get(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth)).body.installed_base).toMatchObject({
      as_of: '2011-09-01',
      computers: 30,
    });
    expect(await h.db('installed_bases').where({ department_id: u.id }).count({ n: '*' }).first()).toEqual({ n: '2' });
  });

  it.each([
    ['negative computers', { as_of: '2011-09-01', computers: -1, servers: 0 }],
    ['computers as text', { as_of: '2011-09-01', computers: '30', servers: 0 }],
    ['a missing date', { computers: 30, servers: 0 }],
    ['a future date', { as_of: '2999-01-01', computers: 30, servers: 0 }],
  ])('refuses %s with 422', async (_name, body) => {
    const u = await unit();
    expect((await h.api.put(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth).send(body)).status).toBe(422);
    expect(await h.db('installed_bases').where({ department_id: u.id })).toEqual([]);
  });

  it('warns the reviewer when a receipt would give a unit more licences than it has computers', async () => {
    const u = await unit();
    await h.api.put(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth).send({ as_of: '2011-08-01', computers: 15, servers: 1 });
    const receiptId = await submit(u, [
      { product: 'Windows 7', category: 'os', licences: 20, amount: '16400.00' },
      { product: 'Office 2010', category: 'office', licences: 10, amount: '14095.00' },
    ]);
    const res = await h.api.get(`/api/v1/receipts/${receiptId}`).set(accountant.auth);
    expect(res.body.warnings).toHaveLength(1);
    expect(res.body.warnings[0]).toMatchObject({ code: 'LICENCES_EXCEED_COMPUTERS', category: 'os' });
    expect(res.body.warnings[0].message).toMatch(/20 套.*15 台/);
    await h.api.post(`/api/v1/receipts/${receiptId}/verify`).set(accountant.auth).send({});
    expect((await h.api.get(`/api/v1/receipts/${receiptId}`).set(accountant.auth)).body.warnings).toEqual([]);
  });
});

describe('yearly inventory', () => {
  it('lists what is missing and surplus; accepting retires what is gone', async () => {
    const u = await unit();
    const { assets } = await verifiedAssets(u, [
      { product: 'Windows 7', category: 'os', licences: 20, amount: '16400.00' },
      { product: 'Office 2010', category: 'office', licences: 20, amount: '28190.00' },
      { product: '瑞星杀毒', category: 'antivirus', licences: 5, amount: '490.00' },
      { product: 'Photoshop', category: 'other', licences: 2, amount: '9000.00' },
    ]);
    const [os, office, antivirus, other] = assets.map((a) => a.id) as [string, string, string, string];
    const filed = await h.api
      .post(`/api/v1/departments/${u.id}/inventories`)
      .set(u.user.auth)
      .send({
        year: 2011,
        counts: [
          { asset_id: os, counted: 18 },
          { asset_id: office, counted: 21 },
          { asset_id: antivirus, counted: 5 },
        ],
      });
    expect(filed.status).toBe(201);
    expect(filed.body.status).toBe('submitted');
    expect(filed.body.differences.map((d: Record<string, unknown>) => [d.asset_id, d.expected, d.counted, d.kind])).toEqual([
      [os, 20, 18, 'missing'],
      [office, 20, 21, 'surplus'],
      [other, 2, 0, 'missing'],
    ]);
    // Nothing moves until an accountant accepts.
    expect((await register(u.id)).items.every((a: { status: string }) => a.status === 'in_use')).toBe(true);
    expect((await h.api.post(`/api/v1/departments/${u.id}/inventories`).set(u.user.auth).send({ year: 2011, counts: [] })).status).toBe(409);
    expect((await h.api.post(`/api/v1/inventories/${filed.body.id}/accept`).set(u.user.auth).send({})).status).toBe(403);
    const accepted = await h.api.post(`/api/v1/inventories/${filed.body.id}/accept`).set(accountant.auth).send({ note: '差异属实' });
    expect(accepted.status).toBe(200);
    const after = Object.fromEntries((await register(u.id)).items.map((a: { id: string }) => [a.id, a]));
    expect([after[os].licences_in_use, after[office].licences_in_use, after[antivirus].licences_in_use, after[other].status]).toEqual([18, 20, 5, 'retired']);
    expect((await h.api.post(`/api/v1/inventories/${filed.body.id}/accept`).set(accountant.auth).send({})).status).toBe(409);
  });

  it("an inventory sent back is counted again; the progress report lists units without the year's inventory", async () => {
    const u = await unit();
    const { assets } = await verifiedAssets(u, [{ product: 'Windows 7', category: 'os', licences: 4, amount: '3280.00' }]);
    const year = Number(todayInShanghai().slice(0, 4));
    const first = await h.api
      .post(`/api/v1/departments/${u.id}/inventories`)
      .set(u.user.auth)
      .send({ year, counts: [{ asset_id: assets[0]!.id, counted: 1 }] });
    const progress = async () => (await h.api.get('/api/v1/progress').set(accountant.auth)).body.inventories;
    expect((await progress()).missing.map((m: { id: string }) => m.id)).not.toContain(u.id);
    expect((await h.api.post(`/api/v1/inventories/${first.body.id}/return`).set(accountant.auth).send({ reason: '请重新清点' })).body.status).toBe('returned');
    expect((await progress()).missing.map((m: { id: string }) => m.id)).toContain(u.id);
    const again = await h.api
      .post(`/api/v1/departments/${u.id}/inventories`)
      .set(u.user.auth)
      .send({ year, counts: [{ asset_id: assets[0]!.id, counted: 4 }] });
    expect(again.status).toBe(201);
    expect(again.body.differences).toEqual([]);
  });

  it('filed twice at once for the same year, one stands and the other is a 409', async () => {
    const u = await unit();
    const { assets } = await verifiedAssets(u, [{ product: 'Windows 7', category: 'os', licences: 4, amount: '3280.00' }]);
    const file = () =>
      h.api
        .post(`/api/v1/departments/${u.id}/inventories`)
        .set(u.user.auth)
        .send({ year: 2011, counts: [{ asset_id: assets[0]!.id, counted: 4 }] });
    const results = await Promise.all([file(), file(), file()]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    expect(await h.db('inventories').where({ department_id: u.id })).toHaveLength(1);
  });

  it.each([
    ["another unit's asset", 'other'],
    ['an asset counted twice', 'twice'],
    ['a negative count', 'negative'],
  ])('refuses %s with 422', async (_name, how) => {
    const u = await unit();
    const { assets } = await verifiedAssets(u, [{ product: 'Windows 7', category: 'os', licences: 4, amount: '3280.00' }]);
    const foreign = await unit();
    const { assets: theirs } = await verifiedAssets(foreign, [{ product: 'Windows 7', category: 'os', licences: 4, amount: '3280.00' }]);
    const counts =
      how === 'other'
        ? [{ asset_id: theirs[0]!.id, counted: 4 }]
        : how === 'twice'
          ? [
              { asset_id: assets[0]!.id, counted: 4 },
              { asset_id: assets[0]!.id, counted: 3 },
            ]
          : [{ asset_id: assets[0]!.id, counted: -1 }];
    expect((await h.api.post(`/api/v1/departments/${u.id}/inventories`).set(u.user.auth).send({ year: 2011, counts })).status).toBe(422);
    expect(await h.db('inventories').where({ department_id: u.id })).toEqual([]);
  });
});

describe('exports', () => {
  it('gives the register as CSV, XLSX and a PDF with the unit, its lines and its compliance', async () => {
    const u = await unit();
    await verifiedAssets(u, [{ product: 'Windows 7 专业版', category: 'os', licences: 4, amount: '3280.00' }]);
    await h.api.put(`/api/v1/departments/${u.id}/installed-base`).set(u.user.auth).send({ as_of: '2011-09-01', computers: 8, servers: 0 });
    const csv = await h.api.get(`/api/v1/departments/${u.id}/software-assets.csv`).set(u.user.auth);
    expect(csv.status).toBe(200);
    expect(csv.text).toContain('Windows 7 专业版');
    expect(csv.text).toContain('3280.00');
    // The title block and file name every export carries: which unit, as of when, made when and by whom.
    const lines = csv.text.replace(/^\uFEFF/, '').split('\r\n');
    expect(lines.slice(0, 3)).toEqual([`${u.name}软件资产台账`, `单位,${u.name}（${u.code}）`, `截至,${todayInShanghai()}`]);
    expect(lines[3]).toMatch(/^生成时间,/);
    expect(lines[4]).toBe(`生成人,${u.user.username}`);
    expect(lines[6]!.startsWith('编号,软件名称,类别,授权方式')).toBe(true);
    expect(csv.headers['content-disposition']).toContain(encodeURIComponent(`${u.name}-软件资产台账-${todayInShanghai()}.csv`));
    const xlsx = await h.api.get(`/api/v1/departments/${u.id}/software-assets.xlsx`).set(auditor.auth).buffer(true).parse(binaryParser);
    expect(xlsx.body.subarray(0, 2).toString()).toBe('PK');
    const pdf = await h.api.get(`/api/v1/departments/${u.id}/software-register.pdf`).set(inspector.auth).buffer(true).parse(binaryParser);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toContain(encodeURIComponent(`${u.name}-软件资产台账-${todayInShanghai()}.pdf`));
    const text = (await pdfText(pdf.body)).join('\n');
    expect(text).toContain('软件资产台账');
    expect(text).toContain(u.name);
    expect(text).toContain('Windows 7 专业版');
    expect(text).toContain('50.00%');
  });
});
