import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { getReceipt } from './receipts.ts';
import { syncRegisterWithReceipt } from '../assets/register.ts';

type Decision = 'verified' | 'rejected' | 'withdrawn';

/** Receipt statuses as people read them (the same words as the pages). */
const receiptStatusNames: Record<string, string> = { submitted: '待审核', verified: '已审核通过', rejected: '已退回', withdrawn: '已撤回' };

/**
 * Rejecting a verified receipt after a run used it: the unit's reward falls, and the next run claws
 * back what is unpaid. The accountant is told what was allocated and paid so the surprise is now, not then.
 */
async function allocatedFrom(trx: Knex, receiptId: string): Promise<string | null> {
  const r = await trx('receipts').where({ id: receiptId }).first('fund_id', 'department_id');
  const used = await trx('allocation_lines as l')
    .join('allocation_runs as a', 'a.id', 'l.run_id')
    .where({ 'a.fund_id': r.fund_id, 'l.department_id': r.department_id, 'a.status': 'approved' })
    .where('l.explanation', '@>', JSON.stringify({ receipts: [String(receiptId)] }))
    .first(trx.raw('count(*)::int AS runs'));
  if (!used?.runs) return null;
  const balances = await trx('accounts')
    .where({ fund_id: r.fund_id, department_id: r.department_id })
    .whereIn('kind', ['expense', 'budget_expenditure'])
    .select('kind', 'balance');
  const of = (k: string) => String(balances.find((b) => b.kind === k)?.balance ?? '0.00');
  return `这张发票已计入已审批的分配（该单位已分配 ${of('expense')} 元，已拨付 ${of('budget_expenditure')} 元）。退回后，下一次分配将收回未拨付部分；已拨付超出部分须由单位退回。`;
}

const decisionWords: Record<Decision, string> = { verified: '审核通过', rejected: '退回', withdrawn: '撤回' };

const allowedFrom: Record<Decision, string[]> = {
  verified: ['submitted'],
  // A verified receipt later found wrong is rejected; allocation then claws back.
  rejected: ['submitted', 'verified'],
  withdrawn: ['submitted'],
};

/** Moves a receipt through its review: verify or reject (accountant), withdraw (its department, while submitted). */
export async function reviewReceipt(db: Knex, ctx: RequestContext, id: string, decision: Decision, reason?: string, opts: { confirmTaxId?: boolean } = {}) {
  const actor = ctx.actor!;
  return inTransaction(db, async (trx) => {
    const current = await trx('receipts').where({ id }).forUpdate().first('id', 'status', 'department_id', 'tax_id_override_reason', 'seller_tax_id');
    if (!current) throw new AppError('NOT_FOUND', '没有这张发票');
    assertOwnDepartment(actor, String(current.department_id), 'receipt');
    if (!allowedFrom[decision].includes(current.status)) {
      const now = receiptStatusNames[current.status] ?? '';
      throw new AppError('CONFLICT', `该发票${now}，不能${decisionWords[decision]}`);
    }
    const confirmsTaxId = decision === 'verified' && current.tax_id_override_reason != null;
    if (confirmsTaxId && !opts.confirmTaxId) {
      throw new AppError(
        'TAX_ID_NOT_CONFIRMED',
        `销售方代码 ${current.seller_tax_id} 校验位不符，单位的理由是：“${current.tax_id_override_reason}”。请核对发票原件，确认代码无误后勾选“确认销售方代码”再审核通过。`,
      );
    }
    await trx('receipts')
      .where({ id })
      .update({
        status: decision,
        status_reason: reason ?? null,
        reviewed_by: actor.id,
        reviewed_at: trx.fn.now(),
        ...(confirmsTaxId ? { tax_id_confirmed_by: actor.id } : {}),
      });
    await trx('receipt_events').insert({ receipt_id: id, from_status: current.status, to_status: decision, reason: reason ?? null, actor_id: actor.id });
    await syncRegisterWithReceipt(trx, ctx, id, current.status, decision);
    const allocated = decision === 'rejected' && current.status === 'verified' ? await allocatedFrom(trx, id) : null;
    const after = { ...(await getReceipt(trx, actor, id)), ...(allocated ? { warning: allocated } : {}) };
    await recordAudit(trx, ctx, {
      action: `receipt.${decision}`,
      objectType: 'receipt',
      objectId: id,
      before: { status: current.status },
      after: { status: decision, reason: reason ?? null },
    });
    return after;
  });
}
