import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { Knex } from 'knex';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import { actorOf } from './context.ts';
import { idempotencyTtlDays } from './idempotency-purge.ts';
import type { JsonReply, Replied, Sendable } from './route.ts';

export interface Outcome<T = unknown> {
  status: number;
  body: Sendable<T>;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function requestHash(req: Request, body: unknown): string {
  return createHash('sha256')
    .update(`${req.method} ${req.baseUrl}${req.path}\n${stableJson(body)}`)
    .digest('hex');
}

function keyOf(req: Request): string | undefined {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.length < 1 || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new AppError('VALIDATION_FAILED', 'Idempotency-Key 须为 1–255 个可见 ASCII 字符', [
      { field: 'Idempotency-Key', message: '须为 1–255 个可见 ASCII 字符' },
    ]);
  }
  return key;
}

/** The (key, request hash) a request claims, if it carries an Idempotency-Key; for writes that claim it in the database themselves. */
export function idempotencyClaimOf(req: Request, body: unknown): { key: string; requestHash: string } | undefined {
  const key = keyOf(req);
  return key === undefined ? undefined : { key, requestHash: requestHash(req, body) };
}

/**
 * Runs a money-moving write once per (user, Idempotency-Key). The key row is written in the same
 * transaction as the write: a concurrent duplicate waits on it and then replays the stored response.
 * A failed write stores nothing, so the same key may be retried. A key is kept IDEMPOTENCY_TTL_DAYS
 * days (7 by default); after that it is forgotten (idempotency-purge.ts).
 */
export async function runIdempotent<T>(
  db: Knex,
  req: Request,
  res: JsonReply<T>,
  body: unknown,
  work: (trx: Knex.Transaction) => Promise<Outcome<T>>,
): Promise<Replied> {
  const key = keyOf(req);
  const outcome = await inTransaction(db, async (trx) => {
    if (key === undefined) return { ...(await work(trx)), replayed: false };
    const userId = actorOf(req).id;
    const hash = requestHash(req, body);
    // A key older than its lifetime (idempotency-purge.ts) is forgotten even before the purge deletes
    // it: the claim takes it over as new, atomically, so two requests cannot both take it.
    const { rows: claimed } = await trx.raw(
      `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES (?, ?, ?)
       ON CONFLICT (user_id, key) DO UPDATE SET request_hash = excluded.request_hash, status_code = NULL, response = NULL, created_at = now()
        WHERE idempotency_keys.created_at < now() - make_interval(days => ?)
       RETURNING key`,
      [userId, key, hash, idempotencyTtlDays()],
    );
    if (claimed.length === 0) {
      const previous = await trx('idempotency_keys').where({ user_id: userId, key }).first();
      if (previous.request_hash !== hash) throw new AppError('IDEMPOTENCY_KEY_REUSED', '该 Idempotency-Key 已用于另一个请求');
      if (previous.status_code == null) throw new AppError('IDEMPOTENCY_KEY_IN_USE');
      // What was answered the first time, as it was stored: the same shape as `work` answers.
      return { status: Number(previous.status_code), body: previous.response as Sendable<T>, replayed: true };
    }
    const result = await work(trx);
    await trx('idempotency_keys')
      .where({ user_id: userId, key })
      .update({ status_code: result.status, response: JSON.stringify(result.body) });
    return { ...result, replayed: false };
  });
  if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return res.status(outcome.status).json(outcome.body);
}
