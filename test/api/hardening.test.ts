import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDepartment, makeFund, makeUser, openHarness, testPassword, type Harness, type TestUser } from '../support/harness.ts';
import { receiptBody } from '../support/receipts.ts';

let h: Harness;
let accountant: TestUser;
let admin: TestUser;
let fundId: string;
let unit: { id: string };
beforeAll(async () => {
  h = openHarness();
  accountant = await makeUser(h.db, 'accountant');
  admin = await makeUser(h.db, 'admin');
  fundId = await makeFund(h, accountant, '1000.00');
  unit = await makeDepartment(h.db);
});
afterAll(() => h.close());

// JSON.stringify writes U+0000 as \u0000 and a lone surrogate as \ud800: both are valid JSON text.
const nul = 'a\u0000b';
const lone = 'memo \ud800 here';
const loneLow = '\udc00';

describe('the text rule: U+0000 and lone surrogates are refused with 422 on every text field', () => {
  const cases: Array<[string, () => { method: 'post' | 'put'; path: string; auth?: TestUser; body: (bad: string) => object }]> = [
    [
      'the login username (unauthenticated)',
      () => ({ method: 'post', path: '/api/v1/auth/login', body: (bad) => ({ username: bad, password: testPassword }) }),
    ],
    ['the login password', () => ({ method: 'post', path: '/api/v1/auth/login', body: (bad) => ({ username: 'someone', password: bad }) })],
    [
      'a department name',
      () => ({ method: 'post', path: '/api/v1/departments', auth: admin, body: (bad) => ({ code: 'X1', name: bad, group: 'government' }) }),
    ],
    [
      'a status note',
      () => ({
        method: 'put',
        path: `/api/v1/departments/${unit.id}/status`,
        auth: accountant,
        body: (bad) => ({ status: 'procuring', effective_date: '2011-08-01', note: bad }),
      }),
    ],
    [
      'a fund name',
      () => ({ method: 'post', path: '/api/v1/funds', auth: accountant, body: (bad) => ({ code: 'FX', name: bad, fiscal_year: 2011, document_no: 'x' }) }),
    ],
    [
      'a journal memo',
      () => ({
        method: 'post',
        path: `/api/v1/funds/${fundId}/journal-entries`,
        auth: accountant,
        body: (bad) => ({
          date: '2011-06-02',
          memo: bad,
          postings: [
            { account_code: '1011', side: 'debit', amount: '1.00' },
            { account_code: '4001', side: 'credit', amount: '1.00' },
          ],
        }),
      }),
    ],
    [
      'a seller name',
      () => ({ method: 'post', path: `/api/v1/departments/${unit.id}/receipts`, auth: accountant, body: (bad) => receiptBody(fundId, { seller_name: bad }) }),
    ],
    [
      'a product name',
      () => ({
        method: 'post',
        path: `/api/v1/departments/${unit.id}/receipts`,
        auth: accountant,
        body: (bad) => receiptBody(fundId, { lines: [{ product: bad, category: 'os', licences: 1, amount: '1.00' }], total: '1.00' }),
      }),
    ],
    [
      'an object key',
      () => ({ method: 'post', path: '/api/v1/departments', auth: admin, body: (bad) => ({ [bad]: 1, code: 'X2', name: 'n', group: 'government' }) }),
    ],
  ];
  for (const [name, make] of cases) {
    for (const [what, bad] of [
      ['U+0000', nul],
      ['a lone high surrogate', lone],
      ['a lone low surrogate', loneLow],
    ] as const) {
      it(`${name} with ${what} → 422, nothing recorded`, async () => {
        const c = make();
        const auditBefore = await h.db('audit_log').count<{ n: string }[]>('* as n');
        let req = h.api[c.method](c.path).set('Content-Type', 'application/json');
        if (c.auth) req = req.set(c.auth.auth);
        const res = await req.send(JSON.stringify(c.body(bad)));
        expect(res.status).toBe(422);
        expect(res.body.code).toBe('VALIDATION_FAILED');
        expect(res.body.detail).toMatch(/空字符|代理字符/);
        expect((await h.db('audit_log').count<{ n: string }[]>('* as n'))[0]!.n).toBe(auditBefore[0]!.n);
      });
    }
  }

  it('a query parameter with U+0000 → 422', async () => {
    const res = await h.api.get('/api/v1/departments?q=a%00b').set(admin.auth);
    expect(res.status).toBe(422);
  });

  it('the sign-in page refuses U+0000 in a form field with 422, not 500', async () => {
    const res = await h.api.post('/login').type('form').send('username=a%00b&password=x');
    expect(res.status).toBe(422);
  });

  it('a CSV import with U+0000 → 422', async () => {
    const res = await h.api
      .post('/api/v1/departments/import')
      .set(admin.auth)
      .set('Content-Type', 'text/csv')
      .send('code,name,group\nX9,a\u0000b,government\n');
    expect(res.status).toBe(422);
  });
});

describe('caching', () => {
  it('signed-in JSON, downloads and pages carry Cache-Control: no-store; static assets may be cached', async () => {
    expect((await h.api.get(`/api/v1/funds/${fundId}`).set(accountant.auth)).headers['cache-control']).toBe('no-store');
    const pdf = await h.api.get(`/api/v1/funds/${fundId}/summary.pdf`).set(accountant.auth);
    expect(pdf.status).toBe(200);
    expect(pdf.headers['cache-control']).toBe('no-store');
    expect((await h.api.get('/login')).headers['cache-control']).toBe('no-store');
    expect((await h.api.get('/assets/app.css')).headers['cache-control']).toMatch(/max-age=3600/);
  });
});

describe('the sign-in form', () => {
  it('refuses a POST without its CSRF token (login CSRF), and accepts one from its own form', async () => {
    const u = await makeUser(h.db, 'auditor');
    const crossSite = await h.api.post('/login').type('form').send({ username: u.username, password: testPassword });
    expect(crossSite.status).toBe(403);
    expect(((crossSite.headers['set-cookie'] ?? []) as unknown as string[]).some((c) => c.startsWith('jb_session='))).toBe(false);
    const form = await h.api.get('/login');
    const token = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
    const cookie = (form.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
    const withCookieOnly = await h.api.post('/login').set('Cookie', cookie).type('form').send({ username: u.username, password: testPassword });
    expect(withCookieOnly.status).toBe(403);
    const ok = await h.api.post('/login').set('Cookie', cookie).type('form').send({ username: u.username, password: testPassword, _csrf: token });
    expect(ok.status).toBe(303);
    expect((ok.headers['set-cookie'] as unknown as string[]).some((c) => c.startsWith('jb_session='))).toBe(true);
  });

  it('refuses a cookie and field that merely match (a planted double submit): the token is bound to a server key', async () => {
    const u = await makeUser(h.db, 'auditor');
    const planted = 'A'.repeat(32);
    const res = await h.api
      .post('/login')
      .set('Cookie', `jb_login_csrf=${planted}`)
      .type('form')
      .send({ username: u.username, password: testPassword, _csrf: planted });
    expect(res.status).toBe(403);
  });
});

describe('the text rule holds on every route that takes a JSON body', () => {
  it('each one answers 422 for U+0000 and for a lone surrogate, before its own schema and handler', async () => {
    const { allRoutes } = await import('../../server/app.ts');
    const { permissions } = await import('../../server/auth/policy.ts');
    const unit = await makeDepartment(h.db);
    const users: Record<string, TestUser> = {
      admin,
      accountant,
      auditor: await makeUser(h.db, 'auditor'),
      department: await makeUser(h.db, 'department', unit.id),
      inspector: await makeUser(h.db, 'inspector'),
    };
    const routes = allRoutes({
      db: h.db,
      config: { tokenTtlHours: 8, uploadMaxBytes: 1 << 20, trustProxy: false, dataDir: '/nonexistent' },
      logger: undefined as never,
    }).filter((r) => r.spec.method !== 'get' && (r.spec.bodyType ?? 'json') === 'json');
    expect(routes.length).toBeGreaterThan(20);
    const answers: string[] = [];
    for (const r of routes) {
      const allowed = permissions[r.spec.action];
      const user = allowed === 'public' ? undefined : users[allowed[0]!];
      const path = r.spec.path.replace(/:id|:dept|:[a-z_]+/g, unit.id);
      for (const bad of [nul, lone]) {
        let req = h.api[r.spec.method](path).set('Content-Type', 'application/json');
        if (user) req = req.set(user.auth);
        const res = await req.send(JSON.stringify({ text: bad, nested: [{ deeper: bad }] }));
        answers.push(`${r.spec.method.toUpperCase()} ${r.spec.path} → ${res.status} ${res.body.code}`);
      }
    }
    expect(answers.filter((a) => !a.endsWith('→ 422 VALIDATION_FAILED'))).toEqual([]);
  });
});

describe('input the schemas accept but the plumbing could not read is a 4xx, never a 500', () => {
  it.each(['/api/v1/statements/%FF', '/api/v1/funds/%FF/journal', '/api/v1/departments/%E0%A4%A'])('GET %s (bad percent-encoding) → 400', async (path) => {
    const res = await h.api.get(path).set(accountant.auth);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it.each(['gzip', 'deflate', 'br'])('POST /api/v1/auth/login with Content-Encoding: %s over a plain body → 4xx', async (encoding) => {
    const res = await h.api
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', encoding)
      .send(JSON.stringify({ username: 'someone', password: 'x' }));
    expect([400, 415]).toContain(res.status);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it.each(['gzip', 'deflate', 'br'])(
    'the sign-in page with Content-Encoding: %s over a plain form → 415 page, and a page path with bad percent-encoding → 400',
    async (encoding) => {
      const res = await h.api
        .post('/login')
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .set('Content-Encoding', encoding)
        .send('username=a&password=b');
      expect(res.status).toBe(415);
      expect((await h.api.get('/funds/%FF').set('Cookie', `jb_session=${accountant.token}`)).status).toBe(400);
    },
  );

  it('a fund of two appropriations of 9,999,999,999,999.99 prints its summary (amounts in words to 10^15)', async () => {
    const big = await makeFund(h, accountant, '9999999999999.99');
    const maker = accountant;
    const r = await h.api
      .post(`/api/v1/funds/${big}/appropriations`)
      .set(maker.auth)
      .send({ amount: '9999999999999.99', document_no: 'big-2', date: '2011-06-03' });
    expect(r.status).toBeLessThan(300);
    const pdf = await h.api.get(`/api/v1/funds/${big}/summary.pdf`).set(accountant.auth);
    expect(pdf.status).toBe(200);
  });
});
