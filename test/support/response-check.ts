import { createRequire } from 'node:module';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Knex } from 'knex';
import { pino } from 'pino';
import { allRoutes } from '../../server/app.ts';
import { openApiDocument } from '../../server/http/openapi.ts';
import type { Route } from '../../server/http/route.ts';
import { pathTable, type PathTable } from '../../server/http/route-paths.ts';

/*
 * Every response an API test receives is checked against the served document (/openapi.json, built by
 * the same openApiDocument): its status must be documented for its operation, its media type among the
 * documented ones, and a JSON body must match the documented schema. A response that does not fails
 * the request in the test, whatever the test itself asserts: the document cannot drift from the code.
 */

type Document = ReturnType<typeof openApiDocument>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

interface Checker {
  doc: Document;
  table: PathTable;
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

let checker: Checker | undefined;

function load(): Checker {
  if (checker) return checker;
  // The specs do not touch the database or the files until a request comes: the same list the service serves.
  const routes = allRoutes({
    db: null as unknown as Knex,
    config: { tokenTtlHours: 8, uploadMaxBytes: 1, trustProxy: false, dataDir: '/nonexistent' },
    logger: pino({ level: 'silent' }),
  });
  const doc = openApiDocument(routes.map((r) => r.spec));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc as object, 'openapi.json');
  checker = { doc, table: pathTable(routes as Route[]), ajv, compiled: new Map() };
  return checker;
}

const pointer = (parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export interface ReceivedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text?: string;
}

/** What is wrong with a response by the document, or null when it matches (or the path is not an operation: pages, assets, 404s, 405s). */
export function responseProblem(method: string, url: string, res: ReceivedResponse): string | null {
  const c = load();
  const m = method.toLowerCase();
  if (m === 'head' || m === 'options') return null;
  const pathname = new URL(url, 'http://localhost').pathname;
  const declared = c.table.resolve(pathname);
  if (!declared) return null;
  const docPath = declared.replace(/:([A-Za-z_]+)/g, '{$1}');
  const op = (c.doc.paths[docPath] as Record<string, Operation> | undefined)?.[m];
  if (!op) return null;
  const where = `${method.toUpperCase()} ${pathname} → ${res.status}`;
  const documented = op.responses[String(res.status)];
  if (!documented)
    return `${where}: status ${res.status} is not documented for this operation (documented: ${Object.keys(op.responses).join(', ')}); body ${JSON.stringify(res.body).slice(0, 300)}`;
  const type = String(res.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (!documented.content) {
    if (res.status !== 204 && (res.text ?? '').length > 0) return `${where}: a body was sent where the document says none`;
    return null;
  }
  const media = documented.content[type];
  if (!media) return `${where}: content type "${type}" is not documented (documented: ${Object.keys(documented.content).join(', ')})`;
  if (!type.endsWith('json')) return null;
  const ref = `openapi.json#/${pointer(['paths', docPath, m, 'responses', String(res.status), 'content', type, 'schema'])}`;
  let validate = c.compiled.get(ref);
  if (!validate) {
    validate = c.ajv.compile({ $ref: ref });
    c.compiled.set(ref, validate);
  }
  // A test that reads a download as bytes gets its error as bytes too: the problem is still JSON.
  let body = res.body;
  if (Buffer.isBuffer(body)) body = JSON.parse(body.toString('utf8') || 'null');
  else if ((body === undefined || (typeof body === 'object' && body !== null && Object.keys(body).length === 0)) && res.text) body = JSON.parse(res.text);
  if (validate(body)) return null;
  const errors = (validate.errors ?? [])
    .slice(0, 5)
    .map(
      (e) =>
        `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : ''}`,
    )
    .join('; ');
  return `${where}: the body does not match the documented schema: ${errors}; body ${JSON.stringify(body).slice(0, 400)}`;
}

let installed = false;

/** Makes every supertest request check its response against the document (once per test process). */
export function checkResponsesAgainstDocument(): void {
  if (installed) return;
  installed = true;
  const Test = createRequire(import.meta.url)('supertest/lib/test.js') as {
    prototype: { assert(this: { method: string; url: string }, err: unknown, res: ReceivedResponse | undefined, fn?: (e: unknown, r: unknown) => void): void };
  };
  const original = Test.prototype.assert;
  Test.prototype.assert = function (err, res, fn) {
    const problem = res ? responseProblem(this.method, this.url, res) : null;
    if (problem && fn) return fn.call(this, new Error(`Response not as documented in /openapi.json: ${problem}`), res);
    return original.call(this, err, res, fn);
  };
}
