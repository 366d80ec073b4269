import type { Knex } from 'knex';
import { fmt } from './support.ts';

export interface BatchFloor {
  /** Entries/s of the call with every trigger and foreign key of the database switched off, rolled back: its own work and its writes. */
  unchecked_per_s: number;
  /** Entries/s of the same call with the database's checks on, rolled back: the pair shows what the checks cost. */
  checked_per_s: number;
}

/**
 * What the batch path can reach on this schema, before any commit: ledger_approve_batch on one pending
 * batch inside a transaction that is rolled back, alternately with session_replication_role = replica
 * (no trigger and no foreign key fires: no chain check, no voucher numbers, no balance rows, no
 * four-eyes or decide-once check; what is left is the function's own work and its writes) and as it
 * runs, the deferred checks made to fire by SET CONSTRAINTS ALL IMMEDIATE. Neither pays a commit's
 * fsync, so both are ceilings; their difference is what the database's checks cost. The batch stays
 * pending for the next call. Needs a superuser (the bench's database owner on DATABASE_URL's server or
 * the embedded one); returns null without one.
 */
export async function batchFloor(db: Knex, batchId: string, approverId: string, size: number, rounds = 11): Promise<BatchFloor | null> {
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
      await trx.raw('SET CONSTRAINTS ALL IMMEDIATE');
      return performance.now() - started;
    } finally {
      await trx.rollback();
    }
  };
  // The two alternate, so the host's drift falls on both alike. Changing session_replication_role resets
  // the session's cached plans, so every call plans afresh; the first pair, a cold start, is not counted.
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
    ? `batch path before its commit (ledger_approve_batch rolled back, median of 11): ${fmt(f.unchecked_per_s, 0)} entries/s with the database's triggers and foreign keys off (the function's own work and writes), ${fmt(f.checked_per_s, 0)} with them on (deferred checks included)`
    : 'batch path before its commit: not measured (needs a superuser database owner)';
