import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Action } from '../auth/policy.ts';

export type Method = 'get' | 'post' | 'put' | 'patch';

/** What a route accepts and who may call it; the OpenAPI document is generated from these. */
export interface RouteSpec {
  method: Method;
  path: string;
  action: Action;
  summary: string;
  tag: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Bodies other than JSON: 'csv' reads text/csv; 'multipart' is left to the handler to stream; 'upload' is CSV or XLSX. */
  bodyType?: 'json' | 'csv' | 'multipart' | 'upload';
  /** Money-moving writes honour Idempotency-Key. */
  idempotent?: boolean;
  responses: Record<number, string>;
}

export interface Input<P = unknown, Q = unknown, B = unknown> {
  params: P;
  query: Q;
  body: B;
}

export type Handler = (req: Request, res: Response, input: Input) => Promise<void>;

export interface Route {
  spec: RouteSpec;
  handler: Handler;
}

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** Declares a route: its spec and a handler that receives the validated input. */
export function route<S extends RouteSpec>(
  spec: S,
  handler: (req: Request, res: Response, input: Input<Parsed<S['params']>, Parsed<S['query']>, Parsed<S['body']>>) => Promise<void>,
): Route {
  return { spec, handler: handler as unknown as Handler };
}
