import { z } from 'zod';
import { roles } from '../../auth/roles.ts';
import { idOut, page, timestamp } from './common.ts';

// 1 samples
export const health = z.object({
  status: z.literal('ok'),
});

// 15 samples
export const session = z.object({
  token: z.string(),
  expires_at: timestamp,
  user: z.object({
    id: idOut,
    username: z.string(),
    role: z.enum(roles),
    department_id: idOut.nullable(),
  }),
});

// 7 samples
export const me = z.object({
  id: idOut,
  username: z.string(),
  role: z.enum(roles),
  department_id: idOut.nullable(),
});

// 5 samples
export const user = z.object({
  id: idOut,
  username: z.string(),
  role: z.enum(roles),
  department_id: idOut.nullable(),
  disabled: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
});

// 3 samples
export const userPage = page(
  z.object({
    id: idOut,
    username: z.string(),
    role: z.enum(roles),
    department_id: idOut.nullable(),
    disabled: z.boolean(),
    created_at: timestamp,
    updated_at: timestamp,
    department_code: z.string().nullable(),
    department_name: z.string().nullable(),
  }),
);

/** One audit-log record: who did what to which object, with the object before and after (as it was stored). */
export const auditRecord = z.object({
  id: idOut,
  at: timestamp,
  actor_id: idOut.nullable(),
  actor_username: z.string().nullable(),
  actor_role: z.string().nullable(),
  action: z.string(),
  object_type: z.string().nullable(),
  object_id: z.string().nullable(),
  request_id: z.string().nullable(),
  ip: z.string().nullable(),
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
});
export const auditPage = page(auditRecord);

// 1 samples
/** This document: OpenAPI 3.1 (its own schema is the OpenAPI specification's, not repeated here). */
export const openApi = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

export const statementCheck = z.object({
  genuine: z.boolean(),
  sha256: z.string(),
  statement_no: z.string().nullable(),
  superseded_by: z.string().nullable(),
  /** Why it is not genuine, in words; `problems` one by one. */
  problem: z.string().optional(),
  problems: z.array(z.string()).optional(),
  kind: z.string().optional(),
  fund_id: idOut.optional(),
  fund_code: z.string().optional(),
  department_id: idOut.nullable().optional(),
  department_name: z.string().nullable().optional(),
  issued_at: timestamp.optional(),
  head_seq: z.number().int().optional(),
  head_hash: z.string().optional(),
  content_hash: z.string().optional(),
  /** A bulletin's issue (快报第N期) and the day its figures stand at. */
  issue_no: z.number().int().optional(),
  as_of: z.string().optional(),
});

// 1 samples
export const statementRecord = z.object({
  statement_no: z.string(),
  kind: z.string(),
  fund_id: idOut,
  department_id: idOut,
  content_hash: z.string(),
  sha256: z.string(),
  size: z.number().int(),
  head_seq: z.number().int(),
  head_hash: z.string(),
  issued_at: timestamp,
});
