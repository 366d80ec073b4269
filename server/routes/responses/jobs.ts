import { z } from 'zod';
import { idOut, timestamp } from './common.ts';

/** A job as GET /api/v1/jobs/:id shows it (server/jobs/jobs.ts jobView). */
export const job = z.object({
  id: idOut,
  kind: z.enum(['statement_bundle', 'audit_bundle']),
  fund_id: idOut,
  status: z.enum(['queued', 'running', 'done', 'failed', 'expired']),
  done: z.number().int().min(0),
  total: z.number().int().min(0).nullable(),
  attempts: z.number().int().min(0),
  error: z.string().nullable(),
  created_at: timestamp,
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  result_expires_at: timestamp.nullable(),
  result_url: z.string().nullable(),
});
