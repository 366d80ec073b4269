import type { Decimal } from 'decimal.js';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Action } from '../auth/policy.ts';

export type Method = 'get' | 'post' | 'put' | 'patch';

/** The API's groups of operations; each is declared with its description in openapi.ts. */
export type Tag =
  | 'service'
  | 'auth'
  | 'users'
  | 'departments'
  | 'audit'
  | 'funds'
  | 'ledger'
  | 'periods'
  | 'allocation'
  | 'disbursements'
  | 'progress'
  | 'receipts'
  | 'statements'
  | 'exports'
  | 'software-assets'
  | 'inspections';

/** The media types of the files the API answers with. */
export const mediaTypes = {
  pdf: 'application/pdf',
  csv: 'text/csv',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
  html: 'text/html',
  jpeg: 'image/jpeg',
  png: 'image/png',
} as const;
export type MediaType = (typeof mediaTypes)[keyof typeof mediaTypes];

/**
 * What a route answers when it succeeds: JSON of a schema, a file of one of some media types, or
 * nothing (204). Required on every route: the document, the tests' response check and the generated
 * client all read it, and the handler's reply is checked against it when it compiles.
 */
export type Success =
  | { status: 200 | 201; description: string; json: z.ZodType }
  | { status: 200; description: string; file: readonly MediaType[] }
  | { status: 204; description: string };

/** A JSON answer with `status` described by `schema`. */
export function json<Z extends z.ZodType>(status: 200 | 201, description: string, schema: Z) {
  return { status, description, json: schema };
}

/** A file answer in one of `types`. */
export function file(description: string, ...types: MediaType[]) {
  return { status: 200 as const, description, file: types };
}

/** An answer with no body. */
export function empty(description: string) {
  return { status: 204 as const, description };
}

/** What a route accepts and who may call it; the OpenAPI document is generated from these. */
export interface RouteSpec {
  method: Method;
  path: string;
  action: Action;
  summary: string;
  tag: Tag;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Bodies other than JSON: 'csv' reads text/csv; 'multipart' is left to the handler to stream; 'upload' is CSV or XLSX. */
  bodyType?: 'json' | 'csv' | 'multipart' | 'upload';
  /** Money-moving writes honour Idempotency-Key. */
  idempotent?: boolean;
  response: Success;
  /**
   * The errors particular to this route (status → the codes and when). The common ones — 400, 401,
   * 403 for a role that may not, 404 where the path names something, 413, 415, 422, 503 — are added
   * by openapi.ts from the spec.
   */
  errors?: Partial<Record<403 | 404 | 409 | 422 | 429, string>>;
}

export interface Input<P = unknown, Q = unknown, B = unknown> {
  params: P;
  query: Q;
  body: B;
}

declare const replied: unique symbol;
/** Proof that a handler answered in the way its spec declares. */
export interface Replied {
  readonly [replied]: true;
}

/** What may be sent for a JSON value of type T: strings may still be Dates or Decimals (they serialise as strings). */
export type Sendable<T> = T extends string
  ? string | Date | Decimal
  : T extends readonly (infer U)[]
    ? readonly Sendable<U>[]
    : T extends object
      ? { [K in keyof T]: Sendable<T[K]> }
      : T;

/** The response of a JSON route: `json()` takes only what the schema describes. */
export type JsonReply<T> = Omit<Response, 'json' | 'status' | 'send' | 'end'> & {
  status(code: number): JsonReply<T>;
  json(body: Sendable<T>): Replied;
};

/** The response of a route without a body. */
export type EmptyReply = Omit<Response, 'json' | 'status' | 'send' | 'end'> & {
  status(code: 204): EmptyReply;
  end(): Replied;
};

/** The handler of a file route writes the file itself (headers, send, a stream) and says so with this. */
export function written(_res: Response): Replied {
  return true as unknown as Replied;
}

type ReplyOf<S extends Success> = S extends { json: infer Z extends z.ZodType } ? JsonReply<z.output<Z>> : S extends { file: unknown } ? Response : EmptyReply;

export type Handler = (req: Request, res: Response, input: Input) => Promise<unknown>;

export interface Route {
  spec: RouteSpec;
  handler: Handler;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** Declares a route: its spec and a handler that receives the validated input and answers as the spec declares. */
export function route<S extends RouteSpec>(
  spec: S & { responses?: never },
  handler: (req: Request, res: ReplyOf<S['response']>, input: Input<Parsed<S['params']>, Parsed<S['query']>, Parsed<S['body']>>) => Promise<Replied>,
): Route {
  return { spec, handler: handler as unknown as Handler };
}
