import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { getReceipt } from './receipts.ts';
import { syncRegisterWithReceipt } from '../assets/register.ts';

type Decision = 'verified' | 'rejected' | 'withdrawn';

const allowedFrom: Record<Decision, string[]> = {
  verified: ['submitted'],
  // A verified receipt later found wrong is rejected; allocation then claws back.
  rejected: ['submitted', 'verified'],
  withdrawn: ['submitted'],
};

/** Moves a receipt through its review: verify or reject (accountant), withdraw (its department, while submitted). */
export async function reviewReceipt(db: Knex, ctx: RequestContext, id: string, decision: Decision, reason?: string) {
  const actor = ctx.actor!;
  return inTransaction(db, async (trx) => {
    const current = await trx('receipts').where({ id }).forUpdate().first('id', 'status', 'department_id');
    if (!current) throw new AppError('NOT_FOUND', '没有这张发票');
    assertOwnDepartment(actor, String(current.department_id), 'receipt');
    if (!allowedFrom[decision].includes(current.status)) {
      throw new AppError('CONFLICT', `该发票当前状态（${current.status}）不能${{ verified: '审核通过', rejected: '退回', withdrawn: '撤回' }[decision]}`);
    }
    await trx('receipts')
      .where({ id })
      .update({ status: decision, status_reason: reason ?? null, reviewed_by: actor.id, reviewed_at: trx.fn.now() });
    await trx('receipt_events').insert({ receipt_id: id, from_status: current.status, to_status: decision, reason: reason ?? null, actor_id: actor.id });
    await syncRegisterWithReceipt(trx, ctx, id, current.status, decision);
    const after = await getReceipt(trx, actor, id);
    await recordAudit(trx, ctx, { action: `receipt.${decision}`, objectType: 'receipt', objectId: id, before: { status: current.status }, after: { status: decision, reason: reason ?? null } });
    return after;
  });
}
