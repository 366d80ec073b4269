import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../server/auth/roles.ts';
import { makeDepartment, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/*
 * Fuzzing the reads from the document: every GET operation, per role, with path and query values drawn
 * from the parameters' JSON schemas — valid ones (patterns, bounds, enums) and broken ones (any string,
 * numbers out of bounds). No answer may be a 5xx, and every answer must be documented (the response
 * check in the harness fails any request whose status or body the document does not describe).
 * FUZZ_RUNS sets the runs per operation and role (default 4; CI keeps it small, a long run sets more).
 */
const runs = Number(process.env.FUZZ_RUNS ?? 4);
const roles: Role[] = ['admin', 'accountant', 'department', 'auditor', 'inspector'];

interface Parameter {
  name: string;
  in: string;
  schema: { type?: string; pattern?: string; enum?: string[]; minimum?: number; maximum?: number };
}

function valueOf(schema: Parameter['schema']): fc.Arbitrary<string> {
  const broken = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', '0', '-1', '0000-01-01', '2011-02-30', '9'.repeat(30), '%', 'null'));
  if (schema.enum) return fc.oneof(fc.constantFrom(...schema.enum), broken);
  if (schema.type === 'integer')
    return fc.oneof(fc.integer({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000 }).map(String), fc.integer().map(String), broken);
  if (schema.pattern) return fc.oneof(fc.stringMatching(new RegExp(schema.pattern)), broken);
  return fc.oneof(fc.string({ maxLength: 20 }), broken);
}

let h: Harness;
const users = new Map<Role, TestUser>();
let sent = 0;

beforeAll(async () => {
  h = openHarness();
  const dept = await makeDepartment(h.db);
  for (const role of roles) users.set(role, await makeUser(h.db, role, role === 'department' ? dept.id : null));
});
afterAll(async () => {
  console.log(`fuzz-reads: ${sent} requests (${runs} runs per operation and role)`);
  await h.close();
});

describe('fuzzing every read from its documented parameters', () => {
  it('answers every role with a documented 2xx or 4xx, never a 5xx', async () => {
    const doc = (await h.api.get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, { parameters: Parameter[] }>> };
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.get;
      if (!op) continue;
      const params = op.parameters.filter((p) => p.in === 'path' || p.in === 'query');
      const arbitrary = fc.record(
        Object.fromEntries(params.map((p) => [`${p.in}:${p.name}`, p.in === 'path' ? valueOf(p.schema) : fc.option(valueOf(p.schema), { nil: undefined })])),
      );
      for (const role of roles) {
        await fc.assert(
          fc.asyncProperty(arbitrary, async (values) => {
            let url = path;
            const query = new URLSearchParams();
            for (const [key, value] of Object.entries(values)) {
              const [where, name] = key.split(':') as [string, string];
              if (value === undefined) continue;
              if (where === 'path') url = url.replace(`{${name}}`, encodeURIComponent(value));
              else query.set(name, value);
            }
            const q = query.toString();
            sent++;
            const res = await h.api.get(q ? `${url}?${q}` : url).set(users.get(role)!.auth);
            expect(res.status, `${role} GET ${url}?${q}`).toBeLessThan(500);
          }),
          { numRuns: runs },
        );
      }
    }
  });
});
