import type { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { calendarDate, money, todayInShanghai } from '../http/schemas.ts';
import { formatAmount } from '../ledger/money.ts';
import { categories } from '../receipts/receipt-rules.ts';
import { licenceKinds } from './asset-rules.ts';
import { assetView, getAsset } from './register.ts';

export const preProgrammeAssetBody = z.strictObject({
  product: z.string().trim().min(1, '请填写软件名称').max(200),
  category: z.enum(categories, { error: `须为 ${categories.join('、')} 之一` }),
  licences: z.number({ error: '套数须为整数' }).int('套数须为整数').min(1, '套数至少为 1').max(10_000_000),
  licence_kind: z.enum(licenceKinds, { error: `须为 ${licenceKinds.join('、')} 之一` }),
  acquired_on: calendarDate,
  value: money,
  note: z.string().trim().max(1000).optional(),
});

export type PreProgrammeAsset = z.output<typeof preProgrammeAssetBody>;

export const retireBody = z.strictObject({
  date: calendarDate,
  reason: z.string().trim().min(1, '请说明报废或停用的原因').max(1000),
  licences: z.number().int('套数须为整数').min(1, '套数至少为 1').max(10_000_000).optional(),
});

const lockAsset = async (trx: Knex.Transaction, id: string) => {
  const row = await trx('software_assets').where({ id }).forUpdate().first();
  if (!row) throw new AppError('NOT_FOUND', '没有这条台账记录');
  return row;
};

/**
 * A licence bought before the programme: it enters the register as `pending` and counts once an
 * accountant has seen its evidence (a scan of the invoice or licence certificate).
 */
export async function addPreProgrammeAsset(db: Knex, ctx: RequestContext, departmentId: string, input: PreProgrammeAsset) {
  assertOwnDepartment(ctx.actor!, departmentId);
  if (input.acquired_on > todayInShanghai()) throw validationError('acquired_on', '购置日期不能晚于今天');
  return inTransaction(db, async (trx) => {
    if (!(await trx('departments').where({ id: departmentId }).first('id'))) throw new AppError('NOT_FOUND', '没有这个单位');
    const [row] = await trx('software_assets')
      .insert({
        department_id: departmentId,
        product: input.product,
        category: input.category,
        licences: input.licences,
        licence_kind: input.licence_kind,
        acquired_on: input.acquired_on,
        value: formatAmount(input.value as Decimal),
        source: 'pre_programme',
        note: input.note ?? '',
        status: 'pending',
        created_by: ctx.actor!.id,
      })
      .returning('*');
    const asset = assetView(row);
    await recordAudit(trx, ctx, { action: 'asset.add_pre_programme', objectType: 'software_asset', objectId: asset.id, after: asset });
    return asset;
  });
}

/** An accountant accepts a pre-programme licence on its evidence, or refuses it with the reason. */
export async function reviewPreProgrammeAsset(db: Knex, ctx: RequestContext, id: string, decision: 'in_use' | 'rejected', reason?: string) {
  return inTransaction(db, async (trx) => {
    const current = await lockAsset(trx, id);
    if (current.status !== 'pending') throw new AppError('CONFLICT', '该台账记录不在待审核状态');
    if (decision === 'in_use' && !(await trx('attachments').where({ software_asset_id: id }).first('id'))) {
      throw new AppError('CONFLICT', '请先上传购置凭证或授权证书的扫描件，再审核通过');
    }
    const [row] = await trx('software_assets')
      .where({ id })
      .update({ status: decision, status_reason: reason ?? null, reviewed_by: ctx.actor!.id, reviewed_at: trx.fn.now() })
      .returning('*');
    const after = assetView(row);
    await recordAudit(trx, ctx, {
      action: decision === 'in_use' ? 'asset.verify' : 'asset.reject',
      objectType: 'software_asset',
      objectId: id,
      before: { status: current.status },
      after,
    });
    return after;
  });
}

/**
 * Takes licences out of use (scrapped, lost, found missing at inventory): all that remain unless a
 * number is given. Never deletes: the retirement is a dated, reasoned record of its own.
 */
export async function retireAsset(
  trx: Knex.Transaction,
  ctx: RequestContext,
  id: string,
  input: { date: string; reason: string; licences?: number | undefined },
  inventoryId?: string,
) {
  const current = await lockAsset(trx, id);
  assertOwnDepartment(ctx.actor!, String(current.department_id), 'software asset');
  if (current.status !== 'in_use') throw new AppError('CONFLICT', '只有在用的台账记录可以报废或停用');
  if (input.date > todayInShanghai()) throw validationError('date', '日期不能晚于今天');
  if (input.date < String(current.acquired_on)) throw validationError('date', '日期不能早于购置日期');
  const remaining = Number(current.licences) - Number(current.retired_licences);
  const licences = input.licences ?? remaining;
  if (licences > remaining) throw validationError('licences', `在用只有 ${remaining} 套`);
  await trx('asset_retirements').insert({
    asset_id: id,
    licences,
    retired_on: input.date,
    reason: input.reason,
    inventory_id: inventoryId ?? null,
    retired_by: ctx.actor!.id,
  });
  const retiredAll = licences === remaining;
  const [row] = await trx('software_assets')
    .where({ id })
    .update({ retired_licences: Number(current.retired_licences) + licences, status: retiredAll ? 'retired' : 'in_use' })
    .returning('*');
  const after = assetView(row);
  await recordAudit(trx, ctx, {
    action: 'asset.retire',
    objectType: 'software_asset',
    objectId: id,
    before: assetView(current),
    after: { ...after, retired_on: input.date, reason: input.reason, licences },
  });
  return after;
}

export async function retire(db: Knex, ctx: RequestContext, id: string, input: z.output<typeof retireBody>) {
  await inTransaction(db, (trx) => retireAsset(trx, ctx, id, input));
  return getAsset(db, ctx.actor!, id);
}

export const installedBaseBody = z.strictObject({
  as_of: calendarDate,
  computers: z.number({ error: '须为整数' }).int('须为整数').min(0, '不能为负数').max(10_000_000),
  servers: z.number({ error: '须为整数' }).int('须为整数').min(0, '不能为负数').max(10_000_000),
});

function installedBaseView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    department_id: String(r.department_id),
    as_of: String(r.as_of),
    computers: Number(r.computers),
    servers: Number(r.servers),
    reported_by: String(r.reported_by),
    reported_at: (r.reported_at as Date).toISOString(),
  };
}

/** A unit's computers and servers as of a date; each report is kept, the latest as of a date counts. */
export async function reportInstalledBase(db: Knex, ctx: RequestContext, departmentId: string, input: z.output<typeof installedBaseBody>) {
  assertOwnDepartment(ctx.actor!, departmentId);
  if (input.as_of > todayInShanghai()) throw validationError('as_of', '日期不能晚于今天');
  return inTransaction(db, async (trx) => {
    if (!(await trx('departments').where({ id: departmentId }).first('id'))) throw new AppError('NOT_FOUND', '没有这个单位');
    const before = await currentInstalledBase(trx, departmentId);
    const [row] = await trx('installed_bases')
      .insert({ department_id: departmentId, ...input, reported_by: ctx.actor!.id })
      .returning('*');
    const after = installedBaseView(row);
    await recordAudit(trx, ctx, { action: 'asset.installed_base', objectType: 'department', objectId: departmentId, before, after });
    return after;
  });
}

export async function currentInstalledBase(db: Knex, departmentId: string, asOf?: string) {
  const q = db('installed_bases')
    .where({ department_id: departmentId })
    .orderBy([
      { column: 'as_of', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  if (asOf) q.where('as_of', '<=', asOf);
  const row = await q.first();
  return row ? installedBaseView(row) : null;
}

/** Computers per unit from each unit's latest installed base (as of a date when given). */
export async function computersByUnit(db: Knex, asOf?: string): Promise<Map<string, number>> {
  const rows = await db.raw(
    `SELECT DISTINCT ON (department_id) department_id, computers FROM installed_bases
      ${asOf ? 'WHERE as_of <= ?' : ''} ORDER BY department_id, as_of DESC, id DESC`,
    asOf ? [asOf] : [],
  );
  return new Map(rows.rows.map((r: { department_id: string; computers: number }) => [String(r.department_id), Number(r.computers)]));
}
