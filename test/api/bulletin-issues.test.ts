import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';
import { binaryParser, pdfText } from '../support/pdf-text.ts';

let h: Harness;
let accountant: TestUser;
let auditor: TestUser;

const bulletin = (user: TestUser, asOf?: string) =>
  h.api
    .get(`/api/v1/progress/bulletin.pdf${asOf ? `?as_of=${asOf}` : ''}`)
    .set(user.auth)
    .buffer(true)
    .parse(binaryParser);
const verify = (bytes: Buffer) => h.api.post('/api/v1/statements/verify').set(auditor.auth).attach('file', bytes, 'bulletin.pdf');

beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  await makeFund(h, accountant, '1000.00');
  await makeDepartment(h.db, { name: '快报测试单位', status: 'completed' });
});
afterAll(() => h.close());

describe('the bulletin (通报) as numbered issues of the 快报', () => {
  it('prints its 文号, 发文机关, issue number, seal place and the chain heads it rests on', async () => {
    const res = await bulletin(auditor, '2011-09-30');
    expect(res.status).toBe(200);
    const issue = Number(res.headers['x-bulletin-issue']);
    const documentNo = decodeURIComponent(res.headers['x-bulletin-no']!);
    const year = new Date().getUTCFullYear();
    expect(documentNo).toMatch(new RegExp(`^新软正办〔(${year}|${year + 1})〕${issue}号$`));
    const text = (await pdfText(res.body)).join('\n').replace(/\s+/g, '');
    expect(text).toContain('软件正版化工作快报');
    expect(text).toContain(`第${issue}期`);
    expect(text).toContain(documentNo);
    expect(text).toContain('自治区软件正版化工作领导小组办公室');
    expect(text).toContain('（盖章处）');
    const fund = await h.db('funds').orderBy('id').first('head_seq', 'head_hash');
    expect(text).toContain(`账簿第${fund.head_seq}号凭证，链头${fund.head_hash}`);
    expect(res.headers['content-disposition']).toContain(`filename*=UTF-8''${encodeURIComponent(`软件正版化工作快报-第${issue}期.pdf`)}`);
  });

  it('verifies through POST /statements/verify, and a one-byte change does not', async () => {
    const res = await bulletin(accountant, '2011-09-30');
    const genuine = await verify(res.body);
    expect(genuine.status).toBe(200);
    expect(genuine.body).toMatchObject({
      genuine: true,
      kind: 'bulletin',
      statement_no: decodeURIComponent(res.headers['x-bulletin-no']!),
      issue_no: Number(res.headers['x-bulletin-issue']),
    });
    const altered = Buffer.from(res.body);
    altered[altered.length - 20]! ^= 1;
    expect((await verify(altered)).body).toMatchObject({ genuine: false, statement_no: null });
  });

  it('gives the same issue for the same content, and the next number for new content', async () => {
    const first = await bulletin(auditor, '2011-09-30');
    const again = await bulletin(accountant, '2011-09-30');
    expect(again.headers['x-bulletin-issue']).toBe(first.headers['x-bulletin-issue']);
    expect(Buffer.compare(again.body, first.body)).toBe(0);
    const later = await bulletin(auditor, '2011-10-15');
    expect(Number(later.headers['x-bulletin-issue'])).toBe(Number(first.headers['x-bulletin-issue']) + 1);
  });

  it('numbers concurrent issues without gaps or repeats', async () => {
    const before = Number((await h.db('bulletin_counters').max('last_no as n').first())?.n ?? 0);
    const dates = ['2011-08-01', '2011-08-02', '2011-08-03', '2011-08-04', '2011-08-05', '2011-08-06'];
    const issued = await Promise.all(dates.map((d) => bulletin(accountant, d)));
    const numbers = issued.map((r) => Number(r.headers['x-bulletin-issue'])).sort((a, b) => a - b);
    expect(numbers).toEqual(dates.map((_, i) => before + i + 1));
    for (const r of issued) expect((await verify(r.body)).body.genuine).toBe(true);
  });

  it('keeps issued bulletins as history: no update or delete, even by direct SQL', async () => {
    const row = await h.db('bulletins').first('id');
    await expect(h.db('bulletins').where({ id: row.id }).update({ issue_no: 999 })).rejects.toThrow(/permission denied|append-only/);
    await expect(h.db('bulletins').where({ id: row.id }).delete()).rejects.toThrow(/permission denied|append-only/);
  });
});
