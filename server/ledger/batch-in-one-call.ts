import type { Knex } from 'knex';
import type { RequestContext } from '../http/context.ts';
import { approverOf, type IdempotencyClaim } from './approval-queue.ts';

/**
 * Approves a prepared batch in one statement (ledger_approve_batch, migration 012): the payload stays
 * in the database instead of a thousand entries' postings passing through the service's memory.
 * Returns the answer, or null when the batch cannot post that way (decided already, the preparer
 * approving, an account to open, an overdraft, any refusal of the database) — then approveBatch,
 * which re-checks in its own transaction, gives the answer and its reason.
 */
/** As approveBatch answers: the entries' ids, numbers, dates and links, not their postings. */
export interface PostedBatch {
  id: string;
  status: 'posted';
  items: Array<{ id: string; seq: number; date: string; hash: string }>;
  head_hash: string;
}

export async function approveBatchInOneCall(db: Knex, ctx: RequestContext, batchId: string, idempotency: IdempotencyClaim): Promise<PostedBatch | null> {
  try {
    const { rows } = await db.raw('SELECT ledger_approve_batch(?::jsonb) AS result', [JSON.stringify({ batch_id: batchId, ...approverOf(ctx, idempotency) })]);
    return rows[0].result as PostedBatch;
  } catch {
    return null;
  }
}
