import { z } from 'zod';
import { permissions } from '../auth/policy.ts';
import { errorCatalogue } from '../errors.ts';
import type { RouteSpec } from './route.ts';

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

function parameters(spec: RouteSpec) {
  const list: Array<Record<string, unknown>> = [];
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!schema) continue;
    const s = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, prop] of Object.entries(s.properties ?? {})) {
      list.push({ name, in: where, required: where === 'path' || (s.required ?? []).includes(name), schema: prop });
    }
  }
  if (spec.idempotent) {
    list.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } });
  }
  return list;
}

/** The OpenAPI 3.1 document, generated from the same schemas that validate requests. */
export function openApiDocument(specs: RouteSpec[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const path = spec.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const who = permissions[spec.action];
    const content =
      spec.bodyType === 'csv'
        ? { 'text/csv': { schema: { type: 'string' } } }
        : spec.body
          ? { 'application/json': { schema: jsonSchema(spec.body) } }
          : undefined;
    (paths[path] ??= {})[spec.method] = {
      tags: [spec.tag],
      summary: spec.summary,
      description: `Allowed: ${who === 'public' ? 'anyone' : who.join(', ')}.`,
      security: who === 'public' ? [] : [{ bearer: [] }],
      parameters: parameters(spec),
      ...(content ? { requestBody: { required: true, content } } : {}),
      responses: Object.fromEntries(
        Object.entries(spec.responses).map(([status, description]) => [
          status,
          { description, ...(Number(status) >= 400 ? { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } } : {}) },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Jiangbu (奖补) API', version: '1', description: 'Books of a reward-in-lieu-of-subsidy fund. Amounts are strings with two decimals.' },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
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
            errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    },
  };
}
