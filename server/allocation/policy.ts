import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { pageOf } from '../db/pagination.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import type { Category } from '../receipts/receipt-rules.ts';
import { categoryList, type Policy } from './allocation-rules.ts';

export interface PolicyInput {
  rates: Record<Category, Decimal>;
  licence_caps: Partial<Record<Category, Decimal | null>>;
  department_ceiling?: Decimal | null | undefined;
  require_completed: boolean;
}

export function policyView(row: Record<string, unknown>) {
  return {
    id: String(row.id),
    fund_id: String(row.fund_id),
    version: Number(row.version),
    rates: Object.fromEntries(categoryList.map((c) => [c, new Decimal(row[`rate_${c}`] as string).toFixed(4)])) as Record<Category, string>,
    licence_caps: Object.fromEntries(categoryList.map((c) => [c, row[`cap_${c}`] == null ? null : String(row[`cap_${c}`])])) as Record<Category, string | null>,
    department_ceiling: row.department_ceiling == null ? null : String(row.department_ceiling),
    require_completed: Boolean(row.require_completed),
    created_by: String(row.created_by),
    created_at: (row.created_at as Date).toISOString(),
  };
}

export function policyOf(row: Record<string, unknown>): Policy {
  const cap = (c: Category) => (row[`cap_${c}`] == null ? null : new Decimal(row[`cap_${c}`] as string));
  return {
    id: String(row.id),
    version: Number(row.version),
    rates: Object.fromEntries(categoryList.map((c) => [c, new Decimal(row[`rate_${c}`] as string)])) as Record<Category, Decimal>,
    caps: Object.fromEntries(categoryList.map((c) => [c, cap(c)])) as Record<Category, Decimal | null>,
    departmentCeiling: row.department_ceiling == null ? null : new Decimal(row.department_ceiling as string),
    requireCompleted: Boolean(row.require_completed),
  };
}

/** A new version of the fund's policy; earlier versions stay as they were. */
export async function setPolicy(db: Knex, ctx: RequestContext, fundId: string, input: PolicyInput) {
  return inTransaction(db, async (trx) => {
    const fund = await trx('funds').where({ id: fundId }).first('id');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    const latest = await trx('policies').where({ fund_id: fundId }).max<{ v: number | null }>('version as v').first();
    const [row] = await trx('policies')
      .insert({
        fund_id: fundId,
        version: (latest?.v ?? 0) + 1,
        ...Object.fromEntries(categoryList.map((c) => [`rate_${c}`, input.rates[c].toFixed(4)])),
        ...Object.fromEntries(categoryList.map((c) => [`cap_${c}`, input.licence_caps[c]?.toFixed(2) ?? null])),
        department_ceiling: input.department_ceiling?.toFixed(2) ?? null,
        require_completed: input.require_completed,
        created_by: ctx.actor!.id,
      })
      .returning('*');
    const policy = policyView(row);
    await recordAudit(trx, ctx, { action: 'policy.create', objectType: 'policy', objectId: policy.id, after: policy });
    return policy;
  });
}

export async function currentPolicyRow(db: Knex, fundId: string) {
  return db('policies').where({ fund_id: fundId }).orderBy('version', 'desc').first();
}

/** A page of the fund's policy versions, newest first; `cursor` is the last version of the page before. */
export async function listPolicies(db: Knex, fundId: string, page: { limit?: number | undefined; cursor?: string | undefined } = {}) {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  const limit = page.limit ?? 100;
  const rows: Array<Record<string, unknown>> = await db('policies')
    .where({ fund_id: fundId })
    .modify((q) => (page.cursor ? q.where('version', '<', page.cursor) : q))
    .orderBy('version', 'desc')
    .limit(limit + 1);
  return pageOf(rows.map(policyView), limit, (p) => p.version);
}
