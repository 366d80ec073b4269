import type { Knex } from 'knex';

/*
 * Retention of idempotency keys (DESIGN.md invariant 5, issue 15): a key's stored response is
 * replayed for IDEMPOTENCY_TTL_DAYS days (7 unless configured) after the first request; after that
 * the key is forgotten — the purge below deletes it, and until it runs an expired key is claimed
 * afresh (server/http/idempotency.ts), so the same key and body then make a new request. A client
 * retries within minutes; a week covers a retry after a weekend outage.
 */

let ttl_days = 7;

/** Set once at start-up from the configuration (IDEMPOTENCY_TTL_DAYS). */
export function setIdempotencyTtlDays(days: number): void {
  if (!Number.isInteger(days) || days < 1) throw new Error(`the idempotency key lifetime must be a whole number of days ≥ 1, got ${days}`);
  ttl_days = days;
}

export function idempotencyTtlDays(): number {
  return ttl_days;
}

const batch_rows = 5000;

/** Deletes keys older than the lifetime, a batch at a time (short locks on a busy table); returns how many. */
export async function purgeExpiredIdempotencyKeys(db: Knex, days = ttl_days): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.raw(
      `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(days => ?) LIMIT ${batch_rows}))`,
      [days],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch_rows) return total;
  }
}

const every_ms = 60 * 60 * 1000;

/** Purges at start and then hourly; never keeps the process alive, and a failed purge is logged and retried next time. */
export function startIdempotencyPurge(db: Knex, log: { info(m: string): void; warn(m: string): void }): { stop(): void } {
  const run = () =>
    purgeExpiredIdempotencyKeys(db).then(
      (n) => n > 0 && log.info(`purged ${n} idempotency keys older than ${ttl_days} days`),
      (e: unknown) => log.warn(`idempotency key purge failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  void run();
  const timer = setInterval(() => void run(), every_ms);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
