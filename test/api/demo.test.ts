import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { demoPassword, loadDemo } from '../../server/demo/load-demo.ts';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { openHarness, type Harness } from '../support/harness.ts';

let url: string;
let h: Harness;
beforeAll(async () => {
  url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_demo');
  h = openHarness(url);
});
afterAll(async () => {
  await h.close();
  await dropDatabase(url);
});

describe('npm run demo', () => {
  it('loads the 71 units, one user per role, the 12,450,000.00 fund, registers and an inspection, once', async () => {
    const printed: string[] = [];
    await loadDemo(h.db, (l) => printed.push(l));
    await loadDemo(h.db, (l) => printed.push(l));
    expect(printed).toHaveLength(2);
    const login = await h.api.post('/api/v1/auth/login').send({ username: 'shenji', password: demoPassword });
    const auth = { Authorization: `Bearer ${login.body.token}` };
    const departments = await h.api.get('/api/v1/departments?limit=500').set(auth);
    expect(departments.body.items).toHaveLength(71);
    const funds = await h.api.get('/api/v1/funds').set(auth);
    expect(funds.body.items).toHaveLength(1);
    // Rewards for the four verified receipts are allocated, none paid yet.
    expect(funds.body.items[0]).toMatchObject({
      appropriated: '12450000.00',
      allocated: '74130.00',
      available_to_allocate: '12375870.00',
      cash_balance: '12450000.00',
    });
    const dept = await h.api.post('/api/v1/auth/login').send({ username: 'tongjiju', password: demoPassword });
    expect(dept.body.user.role).toBe('department');
    const receipts = await h.api.get('/api/v1/receipts').set(auth);
    expect(receipts.body.items.map((r: { status: string }) => r.status).sort()).toEqual([
      'submitted',
      'submitted',
      'verified',
      'verified',
      'verified',
      'verified',
    ]);
    // The notice's other half: registers from the verified receipts, an inspection, a clawback waiting for a second accountant.
    const inspectorLogin = await h.api.post('/api/v1/auth/login').send({ username: 'ducha', password: demoPassword });
    expect(inspectorLogin.body.user.role).toBe('inspector');
    expect(await h.db('software_assets').where({ status: 'in_use', source: 'receipt' }).count({ n: '*' }).first()).toEqual({ n: '12' });
    const inspections = await h.api.get('/api/v1/inspections').set(auth);
    expect(inspections.body.items.map((i: { document_no: string; findings: number }) => [i.document_no, i.findings])).toEqual([['新软正督〔2011〕1号', 2]]);
    const clawbacks = await h.api.get('/api/v1/finding-clawbacks?status=pending').set(auth);
    expect(clawbacks.body.items.map((c: { amount: string }) => c.amount)).toEqual(['500.00']);
    const compliance = await h.api.get('/api/v1/software-assets/compliance').set(auth);
    expect(compliance.body.overall.reported).toBe(6);
    expect((await h.api.get('/api/v1/progress/escalations').set(auth)).body.items).toHaveLength(8);
    const progress = await h.api.get('/api/v1/progress?as_of=2011-08-31').set(auth);
    expect(progress.body).toMatchObject({
      total: 71,
      by_status: { completed: 31, procuring: 29, awaiting_funds: 3, not_started: 8 },
      completion_rate: '0.4366',
      projected_rate: '0.8873',
    });
  });
});
