import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jiangbuClient } from '../../client/index.ts';
import { makeUser, openHarness, testPassword, unique, type Harness } from '../support/harness.ts';

/*
 * The document is usable by an integrator: the client generated from it (client/, openapi-typescript +
 * openapi-fetch) drives the service over HTTP — sign in, an appropriation prepared and approved (a
 * posting), and a statement downloaded — with no hand-written types.
 */
let h: Harness;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  h = openHarness();
  server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await h.close();
});

async function signIn(username: string) {
  const session: { token?: string } = {};
  const client = jiangbuClient(baseUrl, () => session.token);
  const { data, error, response } = await client.POST('/api/v1/auth/login', { body: { username, password: testPassword } });
  expect(response.status, JSON.stringify(error)).toBe(200);
  session.token = data!.token;
  expect(data!.user.username).toBe(username);
  return client;
}

describe('the generated client', () => {
  it('signs in, posts an appropriation through maker and checker, and downloads the fund summary', async () => {
    const maker = await signIn((await makeUser(h.db, 'accountant')).username);
    const checker = await signIn((await makeUser(h.db, 'accountant')).username);

    const fund = await maker.POST('/api/v1/funds', { body: { code: unique('C'), name: '客户端资金', fiscal_year: 2011, document_no: '新财行〔2011〕88号' } });
    expect(fund.response.status).toBe(201);
    const fundId = fund.data!.id;

    const prepared = await maker.POST('/api/v1/funds/{id}/appropriations', {
      params: { path: { id: fundId }, header: { 'Idempotency-Key': unique('k') } },
      body: { amount: '1000000.00', document_no: unique('APP'), date: '2011-06-01' },
    });
    expect(prepared.response.status).toBe(201);
    expect(prepared.data!.status).toBe('pending');

    const posted = await checker.POST('/api/v1/journal-entries/{id}/approve', { params: { path: { id: prepared.data!.id } }, body: {} });
    expect(posted.response.status, JSON.stringify(posted.error)).toBe(200);
    expect(posted.data!.status).toBe('posted');
    expect(posted.data!.seq).toBeGreaterThan(0);

    const read = await maker.GET('/api/v1/funds/{id}', { params: { path: { id: fundId } } });
    expect(read.data!.appropriated).toBe('1000000.00');

    const summary = await maker.GET('/api/v1/funds/{id}/summary.pdf', { params: { path: { id: fundId } }, parseAs: 'arrayBuffer' });
    expect(summary.response.status).toBe(200);
    expect(summary.response.headers.get('content-type')).toBe('application/pdf');
    expect(
      Buffer.from(summary.data as ArrayBuffer)
        .subarray(0, 5)
        .toString('latin1'),
    ).toBe('%PDF-');
  });

  it('gets a problem document, typed, when the server refuses', async () => {
    const maker = await signIn((await makeUser(h.db, 'accountant')).username);
    const res = await maker.GET('/api/v1/funds', { params: { query: { limit: 0 } } });
    expect(res.response.status).toBe(422);
    expect(res.error).toMatchObject({ code: 'VALIDATION_FAILED', status: 422 });
  });
});
