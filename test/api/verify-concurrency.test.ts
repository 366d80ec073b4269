import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveEntry, makeDepartment, makeFund, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let accountant: TestUser;
let auditor: TestUser;
let fundId: string;
let deptCode: string;
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  fundId = await makeFund(h, accountant, '100000.00');
  deptCode = (await makeDepartment(h.db)).code;
});
afterAll(() => h.close());

describe('verify under concurrent posting', () => {
  it('50 verify calls while 8 clients post: every one ok, no false alarm', async () => {
    let posting = true;
    const posted: number[] = [];
    const clients = Array.from({ length: 8 }, async () => {
      let n = 0;
      while (posting) {
        const r = await h.api
          .post(`/api/v1/funds/${fundId}/journal-entries`)
          .set(accountant.auth)
          .send({
            date: '2011-07-01',
            memo: 'load',
            postings: [
              { account_code: `5001.${deptCode}`, side: 'debit', amount: '1.00' },
              { account_code: `2307.${deptCode}`, side: 'credit', amount: '1.00' },
            ],
          });
        expect(r.status).toBe(201);
        // Posted when another accountant approves it.
        await approveEntry(h, r.body.id);
        n++;
      }
      posted.push(n);
    });
    const reports = [];
    for (let i = 0; i < 50; i++) reports.push((await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set(auditor.auth)).body);
    posting = false;
    await Promise.all(clients);
    expect(reports.filter((r) => r.ok !== true)).toEqual([]);
    // The calls really overlapped the posting: they saw the chain at different lengths.
    expect(new Set(reports.map((r) => r.entries)).size).toBeGreaterThan(5);
    expect(posted.reduce((a, b) => a + b, 0)).toBeGreaterThan(8);
  });
});
