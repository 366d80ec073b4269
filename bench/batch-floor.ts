import type { Knex } from 'knex';
import { fmt } from './support.ts';

export interface BatchFloor {
  /** Entries/s of the call with every trigger and foreign key of the database switched off, rolled back. */
  unchecked_per_s: number;
  /** Entries/s of the same call with the database's checks on, rolled back: the pair shows what the checks cost. */
  checked_per_s: number;
}

/**
 * What this schema's own writes allow the batch path, whatever its code does: ledger_approve_batch on
 * one pending batch inside a transaction that is rolled back, once with session_replication_role =
 * replica (no trigger and no foreign key fires: no chain check, no voucher numbers, no balance rows,
 * no four-eyes or decide-once check) and once as it runs. Rolled back, neither pays a commit's fsync,
 * so both are ceilings. The batch stays pending for the next call. Needs a superuser (the bench's
 * database owner on DATABASE_URL's server or the embedded one); returns null without one.
 */
export async function batchFloor(db: Knex, batchId: string, approverId: string, size: number, rounds = 5): Promise<BatchFloor | null> {
  const { rows } = await db.raw('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
  if (!rows[0]?.rolsuper) return null;
  const payload = JSON.stringify({
    batch_id: batchId,
    approver_id: approverId,
    approver_username: 'bench',
    approver_role: 'accountant',
    request_id: 'bench',
    ip: '127.0.0.1',
  });
  const once = async (role: 'replica' | 'origin') => {
    const trx = await db.transaction();
    try {
      await trx.raw(`SET LOCAL session_replication_role = ${role}`);
      const started = performance.now();
      await trx.raw('SELECT ledger_approve_batch(?::jsonb)', [payload]);
      return performance.now() - started;
    } finally {
      await trx.rollback();
    }
  };
  // The two alternate, so the host's drift falls on both alike; the first pair warms the session's plans.
  const ms = { replica: [] as number[], origin: [] as number[] };
  for (let i = 0; i <= rounds; i++) {
    for (const role of ['replica', 'origin'] as const) {
      const t = await once(role);
      if (i > 0) ms[role].push(t);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const unchecked = median(ms.replica);
  const checked = median(ms.origin);
  return { unchecked_per_s: (size * 1000) / unchecked, checked_per_s: (size * 1000) / checked };
}

export const batchFloorLine = (f: BatchFloor | null) =>
  f
    ? `batch path's ceiling on this schema (ledger_approve_batch rolled back, median of 5): ${fmt(f.unchecked_per_s, 0)} entries/s with every trigger and foreign key off, ${fmt(f.checked_per_s, 0)} with them on`
    : "batch path's ceiling on this schema: not measured (needs a superuser database owner)";
