import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pathOf } from '../../server/files/file-store.ts';
import { makeDepartment, makeFund, makeUser, openHarness, testDataDir, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser } from '../support/pdf-text.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let small: Harness;
let accountant: TestUser;
let auditor: TestUser;
let fundId: string;
beforeAll(async () => {
  h = openHarness();
  small = openHarness(undefined, { uploadMaxBytes: 1024 });
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, accountant);
});
afterAll(async () => {
  await small.close();
  await h.close();
});

const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(`png body ${Math.random()}`)]);
const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`jpeg body ${Math.random()}`)]);
const pdf = Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%${Math.random()}\n%%EOF`);
const hostilePdf = Buffer.from(
  `%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n2 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n%${Math.random()}`,
);

async function receiptOf() {
  const d = await makeDepartment(h.db);
  const user = await makeUser(h.db, 'department', d.id);
  const r = await h.api.post(`/api/v1/departments/${d.id}/receipts`).set(user.auth).send(receiptBody(fundId));
  return { dept: d, user, receiptId: String(r.body.id) };
}

describe('attachments', () => {
  it.each([
    ['a PDF', pdf, 'scan.pdf', 'application/pdf'],
    ['a JPEG', jpeg, 'photo.jpg', 'image/jpeg'],
    ['a PNG named .exe', png, 'setup.exe', 'image/png'],
  ])('recognises %s by its bytes, stores it by SHA-256 under DATA_DIR', async (_name, bytes, fileName, mediaType) => {
    const { user, receiptId } = await receiptOf();
    const res = await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).attach('file', bytes, fileName);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), media_type: mediaType, size: bytes.length, active_content: false });
    expect(res.body.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(pathOf(testDataDir, res.body.sha256))).toBe(true);
    const receipt = await h.api.get(`/api/v1/receipts/${receiptId}`).set(user.auth);
    expect(receipt.body.attachments.map((a: { id: string }) => a.id)).toEqual([res.body.id]);
  });

  it('refuses bytes that are not a PDF, JPEG or PNG with 415, whatever the name, and keeps nothing', async () => {
    const { user, receiptId } = await receiptOf();
    const res = await h.api
      .post(`/api/v1/receipts/${receiptId}/attachments`)
      .set(user.auth)
      .attach('file', Buffer.from('MZ\x90\x00 not a scan'), { filename: 'invoice.pdf', contentType: 'application/pdf' });
    expect(res.status).toBe(415);
    expect(await h.db('attachments').where({ receipt_id: receiptId })).toHaveLength(0);
    expect(readdirSync(join(testDataDir, 'files', 'tmp'))).toEqual([]);
  });

  it('refuses a body that is not multipart with 415, and a missing file with 422', async () => {
    const { user, receiptId } = await receiptOf();
    expect((await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).send({ file: 'x' })).status).toBe(415);
    expect((await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).field('note', 'no file')).status).toBe(422);
  });

  it('refuses a file over UPLOAD_MAX_BYTES with 413 and keeps nothing', async () => {
    const { user, receiptId } = await receiptOf();
    const big = Buffer.concat([pdf, Buffer.alloc(4096, 0x20)]);
    const res = await small.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).attach('file', big, 'big.pdf');
    expect(res.status).toBe(413);
    expect(await h.db('attachments').where({ receipt_id: receiptId })).toHaveLength(0);
    expect(readdirSync(join(testDataDir, 'files', 'tmp'))).toEqual([]);
  });

  // Finding 8: a PDF with /OpenAction /JavaScript was stored (only flagged).
  it.each([
    ['an /OpenAction running JavaScript', hostilePdf],
    ['a /Launch action', Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Action /S /Launch /F (cmd.exe) >> endobj\n%${Math.random()}`)],
    ['an embedded file', Buffer.from(`%PDF-1.4\n1 0 obj << /Names << /EmbeddedFiles 2 0 R >> >> endobj\n%${Math.random()}`)],
    ['a script name hidden behind #xx escapes', Buffer.from(`%PDF-1.4\n1 0 obj << /S /J#61vaScript /J#53 (x) >> endobj\n%${Math.random()}`)],
  ])('refuses a PDF with %s (422), keeps nothing, and tells the unit to print to PDF again', async (_name, bytes) => {
    const { user, receiptId } = await receiptOf();
    const res = await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).attach('file', bytes, 'x.pdf');
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('ACTIVE_CONTENT');
    expect(res.body.detail).toContain('打印为 PDF');
    expect(await h.db('attachments').where({ receipt_id: receiptId })).toHaveLength(0);
    expect(readdirSync(join(testDataDir, 'files', 'tmp'))).toEqual([]);
  });

  it('accepts a PDF whose /OpenAction only opens a page', async () => {
    const { user, receiptId } = await receiptOf();
    const goTo = Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction [3 0 R /Fit] >> endobj\n%${Math.random()}`);
    expect((await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).attach('file', goTo, 'scan.pdf')).status).toBe(201);
  });

  // Finding 8: two files in one request stored the first and dropped the second silently.
  it('stores every file of one request, each recorded', async () => {
    const { user, receiptId } = await receiptOf();
    const page2 = Buffer.concat([png, Buffer.from(String(Math.random()))]);
    const res = await h.api
      .post(`/api/v1/receipts/${receiptId}/attachments`)
      .set(user.auth)
      .attach('file', pdf, 'page1.pdf')
      .attach('file', page2, 'page2.png');
    expect(res.status).toBe(201);
    expect(res.body.items.map((a: { file_name: string }) => a.file_name)).toEqual(['page1.pdf', 'page2.png']);
    expect((await h.db('attachments').where({ receipt_id: receiptId })).map((a) => a.file_name)).toEqual(['page1.pdf', 'page2.png']);
  });

  it('stores none of the files of a request when one of them is refused', async () => {
    const { user, receiptId } = await receiptOf();
    const fresh = Buffer.concat([jpeg, Buffer.from(String(Math.random()))]);
    const res = await h.api
      .post(`/api/v1/receipts/${receiptId}/attachments`)
      .set(user.auth)
      .attach('file', fresh, 'good.jpg')
      .attach('file', Buffer.from('MZ not a scan'), 'bad.exe');
    expect(res.status).toBe(415);
    expect(res.body.detail).toContain('bad.exe');
    expect(await h.db('attachments').where({ receipt_id: receiptId })).toHaveLength(0);
    const sha = (await import('node:crypto')).createHash('sha256').update(fresh).digest('hex');
    expect(existsSync(pathOf(testDataDir, sha))).toBe(false);
  });

  // Finding 8: a scan could be added to an already verified receipt (evidence changed after review).
  it.each([
    ['verified', (id: string) => h.api.post(`/api/v1/receipts/${id}/verify`).set(accountant.auth).send({})],
    ['rejected', (id: string) => h.api.post(`/api/v1/receipts/${id}/reject`).set(accountant.auth).send({ reason: '金额与明细不符' })],
  ])('refuses a scan for a %s receipt (409), from the unit and from an accountant, and in the database', async (_status, decide) => {
    const { user, receiptId } = await receiptOf();
    expect((await decide(receiptId)).status).toBe(200);
    for (const who of [user, accountant]) {
      const res = await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(who.auth).attach('file', png, 'late.png');
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/不能再上传扫描件/);
    }
    const file = await h.db('files').first('sha256');
    await expect(h.db('attachments').insert({ sha256: file.sha256, file_name: 'sql.png', receipt_id: receiptId, uploaded_by: user.id })).rejects.toThrow(
      /takes no more scans/,
    );
  });

  it('keeps the original name only as sanitised metadata and serves it back per RFC 6266 with nosniff', async () => {
    const { user, receiptId } = await receiptOf();
    const up = await h.api.post(`/api/v1/receipts/${receiptId}/attachments`).set(user.auth).attach('file', jpeg, '../../etc/发票 <扫描>|.jpg');
    expect(up.body.file_name).toBe('发票 扫描.jpg');
    const down = await h.api.get(`/api/v1/attachments/${up.body.id}`).set(auditor.auth).buffer(true).parse(binaryParser);
    expect(down.status).toBe(200);
    expect(Buffer.compare(down.body, jpeg)).toBe(0);
    expect(down.headers['content-type']).toBe('image/jpeg');
    expect(down.headers['x-content-type-options']).toBe('nosniff');
    expect(down.headers['content-disposition']).toBe(`attachment; filename="__ __.jpg"; filename*=UTF-8''${encodeURIComponent('发票 扫描.jpg')}`);
  });

  it("hides another department's attachment (404)", async () => {
    const a = await receiptOf();
    const b = await receiptOf();
    const up = await h.api.post(`/api/v1/receipts/${a.receiptId}/attachments`).set(a.user.auth).attach('file', png, 'a.png');
    expect((await h.api.get(`/api/v1/attachments/${up.body.id}`).set(b.user.auth)).status).toBe(404);
    expect((await h.api.get(`/api/v1/attachments/${up.body.id}`).set(a.user.auth)).status).toBe(200);
  });

  it('stores the same bytes once', async () => {
    const a = await receiptOf();
    const b = await receiptOf();
    const bytes = Buffer.concat([pdf, Buffer.from(String(Math.random()))]);
    const first = await h.api.post(`/api/v1/receipts/${a.receiptId}/attachments`).set(a.user.auth).attach('file', bytes, 'a.pdf');
    const second = await h.api.post(`/api/v1/receipts/${b.receiptId}/attachments`).set(b.user.auth).attach('file', bytes, 'b.pdf');
    expect(second.body.sha256).toBe(first.body.sha256);
    expect(await h.db('files').where({ sha256: first.body.sha256 })).toHaveLength(1);
  });
});

describe('written report attachments', () => {
  it('attach a signed scan to a written report, visible to its department and staff only', async () => {
    await h.api.put('/api/v1/progress/deadline').set(accountant.auth).send({ deadline: '2011-09-20', title: '专题书面报告' });
    const d = await makeDepartment(h.db, { status: 'not_started' });
    const user = await makeUser(h.db, 'department', d.id);
    const report = await h.api.post(`/api/v1/departments/${d.id}/written-reports`).set(user.auth).send({ body: '情况说明' });
    expect(report.status).toBe(201);
    const up = await h.api.post(`/api/v1/written-reports/${report.body.id}/attachments`).set(user.auth).attach('file', pdf, '报告.pdf');
    expect(up.status).toBe(201);
    const other = await makeUser(h.db, 'department', (await makeDepartment(h.db)).id);
    expect((await h.api.get(`/api/v1/attachments/${up.body.id}`).set(other.auth)).status).toBe(404);
    expect((await h.api.post(`/api/v1/written-reports/${report.body.id}/attachments`).set(other.auth).attach('file', pdf, 'x.pdf')).status).toBe(404);
    expect((await h.api.get(`/api/v1/attachments/${up.body.id}`).set(auditor.auth)).status).toBe(200);
  });
});
