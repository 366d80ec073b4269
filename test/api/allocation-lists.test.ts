import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocationFixtures, standardPolicy } from '../support/allocation-fixtures.ts';
import { makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/* The lists of runs and of policy versions come in pages (`limit`, `cursor`), newest first, like every list. */

let h: Harness;
let maker: TestUser;
let checker: TestUser;
let auditor: TestUser;
let f: ReturnType<typeof allocationFixtures>;
beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
  auditor = await makeUser(h.db, 'auditor');
  f = allocationFixtures(h, maker, checker);
});
afterAll(async () => {
  await h.close();
});

describe('policy versions', () => {
  it('come newest first, a page at a time, the cursor naming the last version shown', async () => {
    const fundId = await f.fundWithPolicy();
    for (const rate of ['0.40', '0.30']) {
      const res = await h.api
        .put(`/api/v1/funds/${fundId}/policy`)
        .set(maker.auth)
        .send({ ...standardPolicy, rates: { ...standardPolicy.rates, os: rate } });
      expect(res.status).toBe(201);
    }
    const first = await h.api.get(`/api/v1/funds/${fundId}/policies?limit=2`).set(auditor.auth);
    expect(first.status).toBe(200);
    expect(first.body.items.map((p: { version: number }) => p.version)).toEqual([3, 2]);
    expect(first.body.items[0].rates.os).toBe('0.3000');
    expect(first.body.next_cursor).toBe('2');
    const second = await h.api.get(`/api/v1/funds/${fundId}/policies?limit=2&cursor=${first.body.next_cursor}`).set(auditor.auth);
    expect(second.status).toBe(200);
    expect(second.body.items.map((p: { version: number }) => p.version)).toEqual([1]);
    expect(second.body.next_cursor).toBeNull();
    const all = await h.api.get(`/api/v1/funds/${fundId}/policies`).set(auditor.auth);
    expect(all.body.items).toHaveLength(3);
    expect(all.body.next_cursor).toBeNull();
  });

  it('refuses a limit or cursor that is not one (422), and an unknown fund (404)', async () => {
    const fundId = await f.fundWithPolicy();
    // A version is an integer: a cursor past 2³¹ − 1 (found by the read fuzzer as a 500) names none.
    for (const q of ['limit=0', 'limit=501', 'limit=x', 'cursor=abc', 'cursor=2150000000', 'cursor=99999999999']) {
      const res = await h.api.get(`/api/v1/funds/${fundId}/policies?${q}`).set(auditor.auth);
      expect(res.status, q).toBe(422);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    }
    expect((await h.api.get('/api/v1/funds/999999999/policies').set(auditor.auth)).status).toBe(404);
  });
});

describe('allocation runs', () => {
  it('come newest first, a page at a time, without their lines', async () => {
    const fundId = await f.fundWithPolicy();
    await f.acceptedUnitWithReceipt(fundId);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await f.newRun(fundId);
      expect(run.status).toBe(201);
      ids.push(String(run.body.id));
    }
    const first = await h.api.get(`/api/v1/funds/${fundId}/allocation-runs?limit=2`).set(auditor.auth);
    expect(first.status).toBe(200);
    expect(first.body.items.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
    // Each run supersedes the draft before it: only the newest is a draft.
    expect(first.body.items.map((r: { status: string }) => r.status)).toEqual(['draft', 'superseded']);
    expect(first.body.items[0].lines).toBeUndefined();
    expect(first.body.next_cursor).toBe(ids[1]);
    const second = await h.api.get(`/api/v1/funds/${fundId}/allocation-runs?limit=2&cursor=${first.body.next_cursor}`).set(auditor.auth);
    expect(second.body.items.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    expect(second.body.next_cursor).toBeNull();
  });

  it('refuses a limit or cursor that is not one (422), and an unknown fund (404)', async () => {
    const fundId = await f.fundWithPolicy();
    for (const q of ['limit=0', 'limit=501', 'cursor=-1']) {
      const res = await h.api.get(`/api/v1/funds/${fundId}/allocation-runs?${q}`).set(auditor.auth);
      expect(res.status, q).toBe(422);
    }
    expect((await h.api.get('/api/v1/funds/999999999/allocation-runs').set(auditor.auth)).status).toBe(404);
  });

  it('pages the runs page of the fund too: a cursor shows the runs older than it', async () => {
    const fundId = await f.fundWithPolicy();
    await f.acceptedUnitWithReceipt(fundId);
    const older = String((await f.newRun(fundId)).body.id);
    const newer = String((await f.newRun(fundId)).body.id);
    const cookie = `jb_session=${auditor.token}`;
    const page = await h.api.get(`/funds/${fundId}/runs`).set('Cookie', cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`第 ${newer} 批`);
    expect(page.text).toContain(`第 ${older} 批`);
    expect(page.text).not.toContain('rel="next"');
    const next = await h.api.get(`/funds/${fundId}/runs?cursor=${newer}`).set('Cookie', cookie);
    expect(next.text).toContain(`第 ${older} 批`);
    expect(next.text).not.toContain(`第 ${newer} 批`);
  });
});
