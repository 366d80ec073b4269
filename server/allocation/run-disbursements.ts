import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { createDisbursement, unreservedPayable } from './disbursements.ts';

/**
 * Prepares, for an approved run, one pending payment per unit of the run for whatever it can still
 * be paid (payable less pending payments). All in one transaction; another accountant approves them.
 */
export async function prepareRunDisbursements(db: Knex, ctx: RequestContext, runId: string, date: string) {
  return inTransaction(db, async (trx) => {
    const run = await trx('allocation_runs').where({ id: runId }).first('id', 'fund_id', 'status');
    if (!run) throw new AppError('NOT_FOUND', '没有这个分配批次');
    if (run.status !== 'approved') throw new AppError('CONFLICT', '只有已审批的分配批次才能生成拨付');
    const units = await trx('allocation_lines as l')
      .join('departments as d', 'd.id', 'l.department_id')
      .where('l.run_id', runId)
      .orderBy('d.id')
      .select('d.id', 'd.code');
    const items = [];
    for (const u of units) {
      const { free } = await unreservedPayable(trx, String(run.fund_id), String(u.id));
      if (free.lte(0)) continue;
      const n = (await trx('disbursements').where({ run_id: runId, department_id: u.id }).first(trx.raw('count(*)::int AS n'))).n as number;
      const voucher = `RUN${runId}-${u.code}${n ? `-${n + 1}` : ''}`;
      items.push(
        await createDisbursement(
          trx,
          ctx,
          String(run.fund_id),
          { department_id: String(u.id), amount: new Decimal(free), voucher_no: voucher, date, memo: `拨付第 ${runId} 批分配的以奖代补资金` },
          runId,
        ),
      );
    }
    if (items.length === 0) throw new AppError('CONFLICT', '该批次各单位已无可拨付的金额：均已拨付，或已有待审批的拨付');
    return { items };
  });
}
