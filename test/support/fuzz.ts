import fc from 'fast-check';
import type { Role } from '../../server/auth/roles.ts';

/*
 * What the read and write fuzzers share: the five roles, the document's shape as they read it, and
 * fast-check arbitraries drawn from its JSON schemas — valid values (patterns, bounds, enums) and the
 * deliberately broken ones every field must survive (impossible dates, "0", huge strings, U+0000…).
 */
export const fuzzRoles: Role[] = ['admin', 'accountant', 'department', 'auditor', 'inspector'];

/** FUZZ_RUNS sets the runs per operation and role (default 4; CI keeps it small, a long run sets more). */
export const fuzzRuns = Number(process.env.FUZZ_RUNS ?? 4);

export interface JsonSchema {
  type?: string;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
}

export interface Parameter {
  name: string;
  in: string;
  schema: JsonSchema;
}

export interface Operation {
  parameters: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

export type FuzzDocument = { paths: Record<string, Record<string, Operation>> };

/** Values no field should take on trust: impossible dates, zero and negative numbers as text, overflow, U+0000, markup. */
export const brokenScalars = ['', '0', '0.00', '-1', '-0.01', '1.234', '0000-01-01', '2011-02-30', '9'.repeat(30), '%', 'null', 'a\u0000b', '<script>'];

const brokenText = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...brokenScalars));

/** The pattern without its lookaheads (which fast-check cannot generate from): generate from this, then filter by the whole pattern. */
function withoutLookaheads(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') {
      out += pattern.slice(i, i + 2);
      i++;
    } else if (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i)) {
      let depth = 0;
      for (; i < pattern.length; i++) {
        if (pattern[i] === '\\') i++;
        else if (pattern[i] === '(') depth++;
        else if (pattern[i] === ')' && --depth === 0) break;
      }
    } else out += pattern[i];
  }
  return out;
}

/** Strings matching `pattern`. */
export function matching(pattern: string): fc.Arbitrary<string> {
  const whole = new RegExp(pattern);
  const generable = withoutLookaheads(pattern);
  return generable === pattern ? fc.stringMatching(whole) : fc.stringMatching(new RegExp(generable)).filter((s) => whole.test(s));
}

/** A path or query value (always a string on the wire) from a parameter's schema, valid or broken. */
export function parameterValue(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.enum) return fc.oneof(fc.constantFrom(...schema.enum.map(String)), brokenText);
  if (schema.type === 'integer')
    return fc.oneof(fc.integer({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000 }).map(String), fc.integer().map(String), brokenText);
  if (schema.pattern) return fc.oneof(matching(schema.pattern), brokenText);
  return fc.oneof(fc.string({ maxLength: 20 }), brokenText);
}

/** A value the schema accepts (lengths and list sizes kept small: the fuzzer is after shapes, not volume). */
export function validValue(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(validValue));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      if (schema.pattern) return matching(schema.pattern).filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 20, Math.max(schema.minLength ?? 0, 20)) });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(validValue(schema.items ?? {}), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, Math.max(schema.minItems ?? 0, 3)),
      });
    case 'object': {
      const props = schema.properties ?? {};
      return fc.record(Object.fromEntries(Object.entries(props).map(([k, s]) => [k, validValue(s)])), {
        requiredKeys: (schema.required ?? []).filter((k) => k in props),
      });
    }
    default:
      return fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean());
  }
}

/** Any value a field might wrongly receive: the broken scalars, other types, a huge string. */
export const brokenValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...brokenScalars, 0, -1, 1.5, -0.01, 2 ** 53, 1e308, true, null, [], {}, [1], { a: 1 }),
  fc.constant('x'.repeat(200_000)),
  fc.string({ maxLength: 12 }),
);

/** The names of every property along the schema's object nesting, as paths ([] is the body itself). */
function fieldPaths(schema: JsonSchema, at: (string | number)[] = []): { path: (string | number)[]; schema: JsonSchema; required: boolean }[] {
  const out: { path: (string | number)[]; schema: JsonSchema; required: boolean }[] = [];
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const path = [...at, name];
    out.push({ path, schema: s, required: (schema.required ?? []).includes(name) });
    if (s.type === 'object') out.push(...fieldPaths(s, path));
    if (s.type === 'array' && s.items?.type === 'object') out.push(...fieldPaths(s.items, [...path, 0]));
  }
  return out;
}

export type Mutation =
  | { kind: 'drop'; path: (string | number)[] }
  | { kind: 'set'; path: (string | number)[]; value: unknown }
  | { kind: 'extra' }
  | { kind: 'whole'; value: unknown };

/** Ways to break a body of `schema`: drop a field, give one a broken value, add an unknown one, or send another type altogether. */
export function mutation(schema: JsonSchema): fc.Arbitrary<Mutation> {
  const fields = fieldPaths(schema);
  const choices: fc.Arbitrary<Mutation>[] = [
    fc.constant<Mutation>({ kind: 'extra' }),
    fc.constantFrom<unknown>(null, [], 'body', 42).map((value): Mutation => ({ kind: 'whole', value })),
  ];
  if (fields.length) {
    choices.push(fc.constantFrom(...fields).map((f): Mutation => ({ kind: 'drop', path: f.path })));
    choices.push(fc.tuple(fc.constantFrom(...fields), brokenValue).map(([f, value]): Mutation => ({ kind: 'set', path: f.path, value })));
  }
  return fc.oneof(...choices);
}

/** `body` with `m` applied (a copy); a path through a missing array item or object changes nothing. */
export function applyMutation(body: unknown, m: Mutation): unknown {
  if (m.kind === 'whole') return m.value;
  const copy = structuredClone(body) as Record<string | number, unknown>;
  if (m.kind === 'extra') {
    if (copy && typeof copy === 'object' && !Array.isArray(copy)) copy.__unexpected = 'x';
    return copy;
  }
  let at: Record<string | number, unknown> | undefined = copy;
  for (const key of m.path.slice(0, -1)) {
    const next: unknown = at?.[key];
    at = next && typeof next === 'object' ? (next as Record<string | number, unknown>) : undefined;
  }
  const last = m.path[m.path.length - 1]!;
  if (at) {
    if (m.kind === 'drop') delete at[last];
    else at[last] = m.value;
  }
  return copy;
}
