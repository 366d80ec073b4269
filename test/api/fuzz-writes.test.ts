import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../server/auth/roles.ts';
import { applyMutation, fuzzRoles, fuzzRuns, mutation, validValue, type FuzzDocument, type JsonSchema, type Mutation } from '../support/fuzz.ts';
import { makeDepartment, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Fuzzing the writes from the document: every POST/PUT/PATCH with a JSON or CSV body, per role, with
 * bodies drawn from the operation's request-body schema — valid ones, and broken ones (a field dropped,
 * given another type, "0", a negative or 3-decimal amount, an impossible date, 200,000 characters,
 * U+0000, an unknown field; or no object at all). No answer may be a 5xx; every answer must be documented
 * (the harness's response check); a body the document refuses is never accepted (2xx), nor is an amount
 * of zero. Path ids name real rows where the fixtures have one (a fund with money, a pending entry, a
 * department, a user), so the writes reach the handlers and the database, not only the 404s.
 * FUZZ_RUNS=n sends 5n bodies per operation and role (default n = 4: about 5,400 requests, under a minute).
 */
let h: Harness;
const users = new Map<Role, TestUser>();
const ids = new Map<string, string>();
let sent = 0;

beforeAll(async () => {
  h = openHarness();
  const dept = await makeDepartment(h.db);
  for (const role of fuzzRoles) users.set(role, await makeUser(h.db, role, role === 'department' ? dept.id : null));
  const accountant = users.get('accountant')!;
  const fundId = await makeFund(h, accountant, '1000000.00');
  const pending = await h.api
    .post(`/api/v1/funds/${fundId}/appropriations`)
    .set(accountant.auth)
    .send({ amount: '500.00', document_no: unique('APP'), date: '2011-06-02' })
    .expect(201);
  const victim = await makeUser(h.db, 'department', dept.id);
  ids.set('funds', fundId);
  ids.set('journal-entries', String(pending.body.id));
  ids.set('departments', dept.id);
  ids.set('users', victim.id);
});
afterAll(async () => {
  console.log(`fuzz-writes: ${sent} requests (${fuzzRuns * 5} bodies per operation and role, about half of them broken)`);
  await h.close();
});

const ajv = new Ajv2020({ strict: false });
addFormats.default(ajv);
const validators = new Map<JsonSchema, ValidateFunction>();
function documentAccepts(schema: JsonSchema, body: unknown): boolean {
  let v = validators.get(schema);
  if (!v) validators.set(schema, (v = ajv.compile(schema)));
  return v(body);
}

/** The path with its ids filled: a fixture's row where there is one for the collection, else an id no row has. */
const fillPath = (path: string) => path.replace(/\{id\}/, ids.get(path.split('/')[3]!) ?? '987654321');

const zeroAmount = (m: Mutation | null) => m?.kind === 'set' && m.path[m.path.length - 1] === 'amount' && (m.value === '0' || m.value === '0.00');

describe('fuzzing every write from its documented request body', () => {
  it(
    'answers valid and broken bodies, per role, with a documented status, never a 5xx, never accepting a broken one',
    async () => {
      const doc = (await h.api.get('/openapi.json').expect(200)).body as FuzzDocument;
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const method of ['post', 'put', 'patch'] as const) {
          const op = ops[method];
          const content = op?.requestBody?.content;
          const type = content?.['application/json'] ? 'application/json' : content?.['text/csv'] ? 'text/csv' : undefined;
          if (!op || !type) continue;
          if (path === '/api/v1/auth/password') continue; // a right guess would sign the role out of the rest of the run
          const schema = content![type]!.schema;
          const keyed = op.parameters.some((p) => p.name === 'Idempotency-Key');
          const body =
            type === 'text/csv'
              ? fc
                  .array(fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '2011-02-30', 'a\u0000b', '"')), { maxLength: 5 }), {
                    maxLength: 4,
                  })
                  .map((rows) => rows.map((r) => r.join(',')).join('\n'))
              : validValue(schema);
          const broken = type === 'text/csv' ? fc.constant(null) : mutation(schema);
          const key = fc.oneof(fc.constant(undefined), fc.constant('fresh'), fc.constantFrom('', ' ', 'k'.repeat(300), 'a b'));
          for (const role of fuzzRoles) {
            await fc.assert(
              fc.asyncProperty(body, fc.option(broken, { nil: null, freq: 2 }), key, async (valid, m, idempotencyKey) => {
                const sentBody = m ? applyMutation(valid, m) : valid;
                const url = fillPath(path);
                let req = h.api[method](url).set(users.get(role)!.auth).set('content-type', type);
                if (keyed && idempotencyKey !== undefined) req = req.set('Idempotency-Key', idempotencyKey === 'fresh' ? unique('fz') : idempotencyKey);
                sent++;
                const res = await req.send(type === 'text/csv' ? String(sentBody) : JSON.stringify(sentBody));
                const what = `${role} ${method.toUpperCase()} ${url} ${JSON.stringify(sentBody)?.slice(0, 300)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
                expect(res.status, what).toBeLessThan(500);
                const refused =
                  (type === 'application/json' && !documentAccepts(schema, sentBody)) ||
                  zeroAmount(m) ||
                  (keyed && idempotencyKey !== undefined && idempotencyKey !== 'fresh');
                if (refused) expect(res.status, what).toBeGreaterThanOrEqual(400);
              }),
              { numRuns: fuzzRuns * 5 },
            );
          }
        }
      }
    },
    30_000 * fuzzRuns,
  );

  // What the fuzzer found, kept as plain assertions.
  it('refuses a programme target rate that is not a number with 422, not 500', async () => {
    const accountant = users.get('accountant')!;
    for (const target_rate of ['x'.repeat(1000), 'abc', '-0.5', '']) {
      const res = await h.api.put('/api/v1/progress/target').set(accountant.auth).send({ target_date: '2011-10-31', target_rate });
      expect(res.status, target_rate.slice(0, 10)).toBe(422);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
  });

  it('answers acceptance of a unit that does not exist with a documented 404', async () => {
    const res = await h.api
      .post('/api/v1/departments/acceptance')
      .set(users.get('accountant')!.auth)
      .send({ department_ids: ['987654321'], accepted_on: '2011-10-20' });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('NOT_FOUND');
  });
});
