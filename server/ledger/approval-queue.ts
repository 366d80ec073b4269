import type { Knex } from 'knex';
import type { RequestContext } from '../http/context.ts';
import type { EntryView } from './journal-read.ts';

/** One approval of a prepared entry, as the route received it. */
export interface ApprovalRequest {
  entryId: string;
  ctx: RequestContext;
  idempotency?: IdempotencyClaim;
}

/** Posted in the coalesced call, or not — then the caller answers through approveEntry, which says why. */
export type ApprovalOutcome = { posted: true; entry: EntryView } | { posted: false; reason: string };

export type IdempotencyClaim = { key: string; requestHash: string } | undefined;

/** What the posting functions of migration 012 write for the approver: the audit row's who and where, and the idempotency claim. */
export function approverOf(ctx: RequestContext, idempotency: IdempotencyClaim) {
  return {
    approver_id: ctx.actor!.id,
    approver_username: ctx.actor!.username,
    approver_role: ctx.actor!.role,
    request_id: ctx.requestId,
    ip: ctx.ip,
    idempotency_key: idempotency?.key ?? null,
    request_hash: idempotency?.requestHash ?? null,
  };
}

interface Waiting {
  request: ApprovalRequest;
  resolve: (outcome: ApprovalOutcome) => void;
}

/** More than this in one transaction would hold the fund locks longer than the group saves. */
const group_max = 64;

/**
 * Group commit for approvals (issue 14). Approvals that arrive while a call is running wait here and
 * go together in the next one: one statement, one transaction, one WAL flush for the group
 * (ledger_approve_prepared, migration 025: checked and written as one set; when an item fails a
 * rule, the in-turn path of migration 012 posts the others and refuses that one alone). A second
 * call in flight was tried: it waits on the fund's lock anyway, splits the groups and cost more. The
 * first approval after a quiet spell goes at once (next turn of the event loop), so a lone request
 * waits for nothing. Acknowledged entries are durable: the statement returns after its commit, with
 * synchronous_commit as the server has it.
 */
export function approvalQueue(db: Knex) {
  const waiting: Waiting[] = [];
  let running = false;
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    running = true;
    const group = waiting.splice(0, group_max);
    const items = group.map(({ request: { entryId, ctx, idempotency } }) => ({ id: entryId, ...approverOf(ctx, idempotency) }));
    try {
      const { rows } = await db.raw('SELECT ledger_approve_prepared(?::jsonb) AS results', [JSON.stringify(items)]);
      const results = rows[0].results as ApprovalOutcome[];
      group.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      // The call as a whole failed (connection lost, deadlock, cancelled): nothing of it committed
      // that the one-at-a-time path will not see, so each request is answered there.
      group.forEach((w) => w.resolve({ posted: false, reason: e instanceof Error ? e.message : String(e) }));
    } finally {
      running = false;
      schedule();
    }
  }

  function schedule(): void {
    if (running || scheduled || waiting.length === 0) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  return {
    approve(request: ApprovalRequest): Promise<ApprovalOutcome> {
      return new Promise((resolve) => {
        waiting.push({ request, resolve });
        schedule();
      });
    },
  };
}

export type ApprovalQueue = ReturnType<typeof approvalQueue>;
