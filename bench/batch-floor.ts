import type { Knex } from 'knex';
import pg from 'pg';
import { fmt, percentile } from './support.ts';

export interface BatchFloor {
  /** Entries/s of the call with every trigger and foreign key of the database switched off, rolled back: its own work and its writes. */
  unchecked_per_s: number;
  /** Entries/s of the same call with the database's checks on (deferred ones included), rolled back: the pair shows what the checks cost. */
  checked_per_s: number;
  /** How many calls of each kind the medians are of. */
  calls: number;
}

/**
 * What the batch path can reach on this schema, before any commit: ledger_approve_batch inside a
 * transaction that is rolled back, alternately on a session kept in session_replication_role = replica
 * (no trigger and no foreign key fires: no chain check, no voucher numbers, no balance rows, no
 * four-eyes or decide-once check; what is left is the function's own work and its writes) and on a
 * session as the service has it, whose deferred checks SET CONSTRAINTS ALL IMMEDIATE makes fire inside
 * the timing. Neither pays a commit's fsync, so both are ceilings; their difference is what the
 * database's checks cost. Each call takes its own batch on its own fund (`batchIds`): rolled-back rows
 * leave dead index entries under the same fund and sequence numbers, which the next call's unique
 * checks would have to visit. The first pair warms the sessions and is not counted. Needs a superuser
 * (the bench's database owner on DATABASE_URL's server or the embedded one); returns null without one.
 */
export async function batchFloor(db: Knex, databaseUrl: string, batchIds: string[], approverId: string, size: number): Promise<BatchFloor | null> {
  const { rows } = await db.raw('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
  if (!rows[0]?.rolsuper) return null;
  const unchecked = new pg.Client({ connectionString: databaseUrl });
  const checked = new pg.Client({ connectionString: databaseUrl });
  await unchecked.connect();
  await checked.connect();
  try {
    await unchecked.query('SET session_replication_role = replica');
    const once = async (client: pg.Client, batchId: string) => {
      const payload = JSON.stringify({
        batch_id: batchId,
        approver_id: approverId,
        approver_username: 'bench',
        approver_role: 'accountant',
        request_id: 'bench',
        ip: '127.0.0.1',
      });
      await client.query('BEGIN');
      try {
        const started = performance.now();
        await client.query('SELECT ledger_approve_batch($1::jsonb)', [payload]);
        await client.query('SET CONSTRAINTS ALL IMMEDIATE');
        return performance.now() - started;
      } finally {
        await client.query('ROLLBACK');
      }
    };
    const ms = { unchecked: [] as number[], checked: [] as number[] };
    for (let i = 0; i + 1 < batchIds.length; i += 2) {
      const off = await once(unchecked, batchIds[i]!);
      const on = await once(checked, batchIds[i + 1]!);
      if (i === 0) continue;
      ms.unchecked.push(off);
      ms.checked.push(on);
    }
    const median = (xs: number[]) =>
      percentile(
        xs.sort((a, b) => a - b),
        50,
      );
    return { unchecked_per_s: (size * 1000) / median(ms.unchecked), checked_per_s: (size * 1000) / median(ms.checked), calls: ms.checked.length };
  } finally {
    await unchecked.end();
    await checked.end();
  }
}

export const batchFloorLine = (f: BatchFloor | null) =>
  f
    ? `batch path before its commit (ledger_approve_batch rolled back, median of ${f.calls} calls each): ${fmt(f.unchecked_per_s, 0)} entries/s with the database's triggers and foreign keys off (the function's own work and writes), ${fmt(f.checked_per_s, 0)} with them on (deferred checks included)`
    : 'batch path before its commit: not measured (needs a superuser database owner)';
