import { z } from 'zod';
import { permissions } from '../auth/policy.ts';
import { errorCatalogue } from '../errors.ts';
import { mediaTypes, type RouteSpec, type Tag } from './route.ts';

const tags: Record<Tag, string> = {
  service: 'Health, this document and the browsable documentation',
  auth: 'Sign-in tokens, the signed-in user and their password',
  users: 'Accounts of the people who use the service (administrators only)',
  departments: 'The units (单位) of the programme: register, CSV import, status',
  audit: 'The audit log of every write',
  funds: 'Funds and their opening appropriations',
  ledger: 'Journal entries, prepared and approved by two accountants; journal, account ledgers, trial balance, verification',
  periods: 'Period closes and their certificates',
  allocation: 'Allocation policies and runs: what each unit is owed',
  disbursements: 'Payments and refunds to units',
  progress: 'Unit status, acceptance, deadlines, written reports and the progress bulletin',
  receipts: 'Invoices units submit as evidence, their scans and their review',
  statements: 'Disbursement statements (资金拨付通知书) as PDF, and checking a printed one',
  exports: 'The books as CSV or XLSX, and the audit bundle',
  jobs: 'Long work (bundles of statements, audit bundles) as jobs: 202 with the job, its progress, its result when done',
  'software-assets': 'The software-asset register, installed bases, inventories and compliance',
  inspections: 'Inspections, findings, rectifications and clawbacks',
};

const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const s = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
    // A schema whose wire form is not what zod sees (a query string read as a number) says how it is documented.
    override: ({ jsonSchema }) => {
      const documented = (jsonSchema as { documented?: object }).documented;
      if (!documented) return;
      for (const key of Object.keys(jsonSchema)) delete (jsonSchema as Record<string, unknown>)[key];
      Object.assign(jsonSchema, documented);
    },
  }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

function parameters(spec: RouteSpec) {
  const list: Array<Record<string, unknown>> = [];
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!schema) continue;
    const s = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      list.push({ name, in: where, required: where === 'path' || (s.required ?? []).includes(name), schema: prop });
    }
  }
  if (spec.idempotent) {
    list.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Sending the same key again replays the first answer instead of writing twice',
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
    });
  }
  return list;
}

function requestBody(spec: RouteSpec) {
  const upload = { type: 'object', required: ['file'], properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } } };
  switch (spec.bodyType) {
    case 'csv':
      return { required: true, content: { 'text/csv': { schema: { type: 'string' } } } };
    case 'multipart':
      return { required: true, content: { 'multipart/form-data': { schema: upload } } };
    case 'upload':
      return {
        required: true,
        content: { 'text/csv': { schema: { type: 'string' } }, [mediaTypes.xlsx]: { schema: { type: 'string', contentMediaType: mediaTypes.xlsx } } },
      };
    default:
      return spec.body ? { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } } : undefined;
  }
}

function success(spec: RouteSpec) {
  const r = spec.response;
  if ('json' in r) return { description: r.description, content: { 'application/json': { schema: jsonSchema(r.json, 'output') } } };
  if ('file' in r)
    return { description: r.description, content: Object.fromEntries(r.file.map((t) => [t, { schema: { type: 'string', contentMediaType: t } }])) };
  return { description: r.description };
}

/** A query or body field that names a record by its id (`department_id`, `entry_ids`): one that names nothing visible is 404. */
function namesSomething(schema: z.ZodType | undefined): boolean {
  if (!schema) return false;
  const s = jsonSchema(schema, 'input') as { properties?: Record<string, unknown> };
  return Object.keys(s.properties ?? {}).some((name) => /(^id|_ids?)$/.test(name));
}

/**
 * The errors a route can answer because of the pipeline every route goes through (app.ts): what it
 * declares itself is added to these.
 */
function errors(spec: RouteSpec): Record<number, string> {
  const who = permissions[spec.action];
  const readsBody = spec.method !== 'get';
  const out: Record<number, string> = {
    400: 'MALFORMED_REQUEST: the request cannot be read (bad JSON, bad percent-encoding)',
    401: who === 'public' ? 'UNAUTHENTICATED: an Authorization header was sent and is not a valid token' : 'UNAUTHENTICATED: sign in first',
  };
  if (who !== 'public' && who.length < Object.keys(roles).length) out[403] = `FORBIDDEN: only ${who.join(', ')}`;
  if (spec.path.includes(':') || namesSomething(spec.query) || namesSomething(spec.body))
    out[404] = 'NOT_FOUND: nothing with this number (or another department’s)';
  if (readsBody) out[413] = 'PAYLOAD_TOO_LARGE';
  if (readsBody) out[415] = 'UNSUPPORTED_MEDIA_TYPE';
  out[422] = 'VALIDATION_FAILED: a field breaks its rule (each is named in errors[])';
  if (spec.idempotent) {
    out[409] = 'IDEMPOTENCY_KEY_IN_USE: the first request with this key is still running';
    out[422] += '; IDEMPOTENCY_KEY_REUSED: the key was sent with another request';
  }
  out[503] = 'UNAVAILABLE: the database does not answer';
  for (const [status, text] of Object.entries(spec.errors ?? {})) {
    const n = Number(status);
    out[n] = out[n] ? `${out[n]}; ${text}` : text;
  }
  return out;
}

const roles = { admin: 1, accountant: 1, department: 1, auditor: 1, inspector: 1 };

/** `get /api/v1/funds/:id/accounts` → `getFundsByIdAccounts`: stable, unique and readable in a generated client. */
export function operationId(spec: Pick<RouteSpec, 'method' | 'path'>): string {
  const words = spec.path
    .replace(/^\/api\/v1\//, '/')
    .split(/[/.-]/)
    .filter(Boolean)
    .map((w) => (w.startsWith(':') ? `By_${w.slice(1)}` : w))
    .flatMap((w) => w.split('_'))
    .filter(Boolean);
  return spec.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** The OpenAPI 3.1 document, generated from the same schemas that validate requests and type the handlers' answers. */
export function openApiDocument(specs: RouteSpec[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const path = spec.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const who = permissions[spec.action];
    const body = requestBody(spec);
    (paths[path] ??= {})[spec.method] = {
      operationId: operationId(spec),
      tags: [spec.tag],
      summary: spec.summary,
      description: `Allowed: ${who === 'public' ? 'anyone' : who.join(', ')}.`,
      security: who === 'public' ? [] : [{ bearer: [] }],
      parameters: parameters(spec),
      ...(body ? { requestBody: body } : {}),
      responses: {
        [spec.response.status]: success(spec),
        ...Object.fromEntries(Object.entries(errors(spec)).map(([status, description]) => [status, { description, content: problem }])),
      },
    };
  }
  const used = new Set(specs.map((s) => s.tag));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Jiangbu (奖补) API',
      version: '1',
      description: 'Books of a reward-in-lieu-of-subsidy fund. Amounts are strings with two decimals.',
      contact: { name: 'The finance bureau (财政局) that runs this service' },
      license: { name: 'Proprietary: software of the finance bureau, not for redistribution' },
    },
    servers: [{ url: '/', description: 'This service' }],
    tags: Object.entries(tags)
      .filter(([name]) => used.has(name as Tag))
      .map(([name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/v1/auth/login' } },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'code', 'detail'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            code: { type: 'string', enum: Object.keys(errorCatalogue) },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['field', 'message'],
                properties: { field: { type: 'string' }, message: { type: 'string' } },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
      },
    },
  };
}
