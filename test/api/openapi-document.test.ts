import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendarDate } from '../../server/http/schemas.ts';
import { openHarness, type Harness } from '../support/harness.ts';
import { responseProblem } from '../support/response-check.ts';

type Operation = {
  operationId: string;
  tags: string[];
  security: unknown[];
  parameters: Array<{ name: string; in: string; schema: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
};

let h: Harness;
let doc: {
  servers: unknown[];
  info: { license?: { name: string }; contact?: { name: string } };
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Record<string, Operation>>;
};
const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

beforeAll(async () => {
  h = openHarness();
  doc = (await h.api.get('/openapi.json').expect(200)).body;
});
afterAll(() => h.close());

describe('the OpenAPI document', () => {
  it('names every operation once, declares its tags with descriptions, its servers, licence and contact', () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(ids.every((id) => /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const declared = new Set(doc.tags.map((t) => t.name));
    for (const { op } of operations()) for (const tag of op.tags) expect(declared).toContain(tag);
    expect(doc.tags.every((t) => t.description.length > 0)).toBe(true);
    expect(doc.servers.length).toBeGreaterThan(0);
    expect(doc.info.license?.name).toBeTruthy();
    expect(doc.info.contact?.name).toBeTruthy();
  });

  it('describes what every operation answers on success: a JSON schema, a file type, or nothing (204)', () => {
    for (const { path, method, op } of operations()) {
      const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
      expect(success, `${method} ${path}`).toHaveLength(1);
      const [status, response] = success[0]!;
      if (status === '204') expect(response.content).toBeUndefined();
      else expect(Object.keys(response.content ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
    }
    expect(Object.keys(doc.paths['/api/v1/jobs/{id}/result']!.get!.responses['200']!.content!)).toEqual(['application/zip']);
    expect(Object.keys(doc.paths['/api/v1/funds/{id}/journal.{format}']!.get!.responses['200']!.content!)).toEqual([
      'text/csv',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    ]);
  });

  it('lists the errors the pipeline answers: 400, 401, 422, 503 everywhere; 403 for roles that may not; 404 where the path names something; 413 and 415 where a body is read', () => {
    for (const { path, method, op } of operations()) {
      const statuses = Object.keys(op.responses);
      for (const s of ['400', '401', '422', '503']) expect(statuses, `${method} ${path}`).toContain(s);
      if (path.includes('{')) expect(statuses, `${method} ${path}`).toContain('404');
      if (method !== 'get') expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
    }
    expect(Object.keys(doc.paths['/api/v1/users']!.post!.responses)).toContain('403');
    expect(Object.keys(doc.paths['/api/v1/auth/login']!.post!.responses)).toContain('429');
    expect(Object.keys(doc.paths['/api/v1/funds/{id}/appropriations']!.post!.responses['422']!.content!)).toEqual(['application/problem+json']);
  });

  it('takes uploads as multipart/form-data with a binary file, the department import as text/csv', () => {
    const multipart = operations().filter(({ op }) => op.requestBody?.content['multipart/form-data']);
    expect(multipart.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining(['post /api/v1/statements/verify', 'post /api/v1/receipts/{id}/attachments', 'post /api/v1/software-assets/{id}/attachments']),
    );
    for (const { op } of multipart) expect(op.requestBody!.content['multipart/form-data']!.schema).toMatchObject({ required: ['file'] });
    expect(Object.keys(doc.paths['/api/v1/departments/import']!.post!.requestBody!.content)).toEqual(['text/csv']);
  });

  it('gives parameters the bounds the server keeps: limit 1–500, real calendar days, a non-empty Idempotency-Key', () => {
    const funds = doc.paths['/api/v1/funds']!.get!.parameters;
    expect(funds.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    const asOf = doc.paths['/api/v1/funds/{id}/trial-balance']!.get!.parameters.find((p) => p.name === 'as_of')!.schema;
    const pattern = new RegExp(asOf.pattern as string);
    for (const day of ['2011-06-01', '2012-02-29', '2000-02-29']) expect(pattern.test(day)).toBe(true);
    for (const day of ['0000-01-01', '2011-02-30', '2100-02-29', '9999-12-31', '2011-13-01']) {
      expect(pattern.test(day), day).toBe(false);
      expect(calendarDate.safeParse(day).success).toBe(false);
    }
    const key = doc.paths['/api/v1/funds/{id}/appropriations']!.post!.parameters.find((p) => p.name === 'Idempotency-Key')!.schema;
    expect(key).toMatchObject({ minLength: 1, maxLength: 255 });
  });
});

describe('the response check every API test runs', () => {
  it('refuses an undocumented status, an undocumented media type and a body that does not match', () => {
    const json = { 'content-type': 'application/json; charset=utf-8' };
    expect(responseProblem('GET', '/healthz', { status: 200, headers: json, body: { status: 'ok' } })).toBeNull();
    expect(responseProblem('GET', '/healthz', { status: 418, headers: json, body: {} })).toMatch(/status 418 is not documented/);
    expect(responseProblem('GET', '/healthz', { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' })).toMatch(/content type "text\/plain"/);
    expect(responseProblem('GET', '/healthz', { status: 200, headers: json, body: { status: 'ok', extra: 1 } })).toMatch(/does not match/);
    expect(responseProblem('GET', '/api/v1/funds/1', { status: 500, headers: { 'content-type': 'application/problem+json' }, body: {} })).toMatch(
      /status 500 is not documented/,
    );
  });

  it('leaves alone what is not an operation: pages, unknown paths, and the 405 of a method a path does not have', () => {
    expect(responseProblem('GET', '/login', { status: 200, headers: { 'content-type': 'text/html' }, body: '' })).toBeNull();
    expect(responseProblem('GET', '/api/v1/nothing-here', { status: 404, headers: {}, body: {} })).toBeNull();
    expect(responseProblem('DELETE', '/api/v1/funds', { status: 405, headers: {}, body: {} })).toBeNull();
  });
});
