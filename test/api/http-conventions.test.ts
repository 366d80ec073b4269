import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../../server/errors.ts';
import { makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

let h: Harness;
let admin: TestUser;
beforeAll(async () => {
  h = openHarness();
  admin = await makeUser(h.db, 'admin');
});
afterAll(() => h.close());

const departmentCount = async () => Number((await h.db('departments').count<{ n: string }[]>('* as n'))[0]!.n);

describe('HTTP conventions', () => {
  it('answers /healthz once the database answers', async () => {
    const res = await h.api.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('puts a request id and security headers on every response', async () => {
    const res = await h.api.get('/api/v1/nothing-here');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBeDefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  // helmet()'s defaults, written out: a change of helmet or of how they are set shows here.
  const securityHeaders = {
    'content-security-policy':
      "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  };
  it.each(['/healthz', '/api/v1/funds', '/api/v1/nothing-here', '/login'])('GET %s carries every security header, each with its value', async (path) => {
    const res = await h.api.get(path).set(admin.auth);
    expect(res.headers).toMatchObject(securityHeaders);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('gives each request its own id', async () => {
    const [a, b] = await Promise.all([h.api.get('/healthz'), h.api.get('/healthz')]);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('answers an unknown path with a problem+json 404', async () => {
    const res = await h.api.get('/api/v1/nothing-here').set(admin.auth);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: '/docs#error-NOT_FOUND', title: 'Not found', status: 404, code: 'NOT_FOUND' });
  });

  it('answers a known path asked with another method 405, naming the methods it has', async () => {
    const res = await h.api.delete('/api/v1/funds').set(admin.auth);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST, GET, HEAD');
    expect(res.body).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    const withId = await h.api.put('/api/v1/receipts/1').set(admin.auth);
    expect(withId.status).toBe(405);
    expect(withId.headers.allow).toContain('GET');
  });

  it('lets a fixed path win over a parameter: GET /statements/verify is not statement number "verify"', async () => {
    const res = await h.api.get('/api/v1/statements/verify').set(admin.auth);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });

  const cases: Array<[string, (req: ReturnType<Harness['api']['post']>) => ReturnType<Harness['api']['post']>, number, string]> = [
    ['a body that is not JSON', (r) => r.set('Content-Type', 'application/json').send('{"code":'), 400, 'MALFORMED_REQUEST'],
    ['a form body', (r) => r.set('Content-Type', 'application/x-www-form-urlencoded').send('code=X&name=Y'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'a body over 1 MiB',
      (r) => r.set('Content-Type', 'application/json').send(JSON.stringify({ code: 'X', name: 'x'.repeat(1_100_000), group: 'government' })),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'a __proto__ key',
      (r) => r.set('Content-Type', 'application/json').send('{"code":"PROTO1","name":"n","group":"government","__proto__":{"x":1}}'),
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'a constructor key',
      (r) => r.set('Content-Type', 'application/json').send('{"code":"PROTO2","name":"n","group":"government","constructor":{"x":1}}'),
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'deeply nested JSON',
      (r) =>
        r.set('Content-Type', 'application/json').send(`{"code":"DEEP1","name":"n","group":"government","note":${'['.repeat(50_000)}${']'.repeat(50_000)}}`),
      400,
      'MALFORMED_REQUEST',
    ],
    ['an unknown field', (r) => r.send({ code: 'MASS1', name: 'n', group: 'government', id: 1 }), 422, 'VALIDATION_FAILED'],
    ['a wrong type', (r) => r.send({ code: 7, name: 'n', group: 'government' }), 422, 'VALIDATION_FAILED'],
    ['an empty body', (r) => r, 422, 'VALIDATION_FAILED'],
    [
      'invalid UTF-8',
      (r) =>
        r
          .set('Content-Type', 'application/json')
          .serialize((b: Buffer) => b as unknown as string)
          .send(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
      400,
      'MALFORMED_REQUEST',
    ],
  ];
  for (const [name, build, status, code] of cases) {
    it(`refuses ${name} with ${status} ${code} and changes nothing`, async () => {
      const before = await departmentCount();
      const res = await build(h.api.post('/api/v1/departments').set(admin.auth));
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await departmentCount()).toBe(before);
    });
  }

  it('names each invalid field', async () => {
    const res = await h.api.post('/api/v1/departments').set(admin.auth).send({ code: 'bad code!', name: '', group: 'Government', extra: true });
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['body', 'code', 'group', 'name']);
  });

  it('refuses bad query parameters with 422 naming them', async () => {
    const res = await h.api.get('/api/v1/departments?limit=0&cursor=abc&color=red').set(admin.auth);
    expect(res.status).toBe(422);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cursor', 'limit', 'query']);
  });

  it('serves an OpenAPI document that lists every route and every error code', async () => {
    const res = await h.api.get('/openapi.json');
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toContain('/api/v1/funds/{id}/appropriations');
    expect(res.body.paths['/api/v1/funds/{id}/appropriations'].post.requestBody.content['application/json'].schema.properties.amount.pattern).toBe(
      '^[0-9]{1,13}(\\.[0-9]{1,2})?$',
    );
    expect(res.body.components.schemas.Problem.properties.code.enum.sort()).toEqual(Object.keys(errorCatalogue).sort());
  });

  it('serves browsable docs whose error anchors match the catalogue', async () => {
    const res = await h.api.get('/docs');
    expect(res.status).toBe(200);
    const anchors = [...res.text.matchAll(/id="error-([A-Z_]+)"/g)].map((m) => m[1]).sort();
    expect(anchors).toEqual(Object.keys(errorCatalogue).sort());
  });

  it('creates a resource with 201 and the resource, id at the top level', async () => {
    const code = unique('C');
    const res = await h.api.post('/api/v1/departments').set(admin.auth).send({ code, name: '统计局', group: 'government' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^[0-9]+$/), code, name: '统计局', status: 'not_started' });
  });
});
