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
  it('loads the 71 units, one user per role and the 12,450,000.00 fund, once', async () => {
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
    expect(funds.body.items[0]).toMatchObject({ appropriated: '12450000.00', available_to_allocate: '12450000.00', cash_balance: '12450000.00' });
    const dept = await h.api.post('/api/v1/auth/login').send({ username: 'tongjiju', password: demoPassword });
    expect(dept.body.user.role).toBe('department');
    const receipts = await h.api.get('/api/v1/receipts').set(auth);
    expect(receipts.body.items.map((r: { status: string }) => r.status).sort()).toEqual(['submitted', 'submitted', 'verified', 'verified', 'verified', 'verified']);
    const progress = await h.api.get('/api/v1/progress?as_of=2011-08-31').set(auth);
    expect(progress.body).toMatchObject({ total: 71, by_status: { completed: 31, procuring: 29, awaiting_funds: 3, not_started: 8 }, completion_rate: '0.4366', projected_rate: '0.8873' });
  });
});
