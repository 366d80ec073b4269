import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment, scopeToOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { pageOf } from '../db/pagination.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { idParam, todayInShanghai } from '../http/schemas.ts';
import { retireAsset } from './asset-changes.ts';
import { inventoryDifferences } from './asset-rules.ts';

export const inventoryBody = z.strictObject({
  year: z.number({ error: '须为年份' }).int('须为年份').min(1990, '须为年份').max(2200, '须为年份'),
  counts: z
    .array(z.strictObject({ asset_id: idParam, counted: z.number({ error: '须为整数' }).int('须为整数').min(0, '不能为负数').max(10_000_000) }))
    .max(100_000),
});

async function inventoryView(db: Knex, row: Record<string, unknown>) {
  const lines = await db('inventory_counts as c')
    .join('software_assets as a', 'a.id', 'c.asset_id')
    .where('c.inventory_id', String(row.id))
    .orderBy('c.asset_id')
    .select('c.asset_id', 'c.expected', 'c.counted', 'a.product', 'a.category');
  const differences = lines
    .filter((l) => l.counted !== l.expected)
    .map((l) => ({
      asset_id: String(l.asset_id),
      product: l.product,
      category: l.category,
      expected: l.expected,
      counted: l.counted,
      kind: l.counted < l.expected ? 'missing' : 'surplus',
      difference: l.counted - l.expected,
    }));
  return {
    id: String(row.id),
    department_id: String(row.department_id),
    year: Number(row.year),
    status: String(row.status),
    filed_by: String(row.filed_by),
    filed_at: (row.filed_at as Date).toISOString(),
    reviewed_by: row.reviewed_by == null ? null : String(row.reviewed_by),
    review_note: row.review_note == null ? null : String(row.review_note),
    lines: lines.map((l) => ({ asset_id: String(l.asset_id), product: l.product, category: l.category, expected: l.expected, counted: l.counted })),
    differences,
  };
}

/**
 * The yearly inventory (年度盘点): the unit counts every asset in use; the register is not touched
 * until an accountant accepts the differences.
 */
export async function fileInventory(db: Knex, ctx: RequestContext, departmentId: string, input: z.output<typeof inventoryBody>) {
  assertOwnDepartment(ctx.actor!, departmentId);
  if (input.year > Number(todayInShanghai().slice(0, 4))) throw validationError('year', '不能为将来的年度盘点');
  const seen = new Set<string>();
  input.counts.forEach((c, i) => {
    if (seen.has(c.asset_id)) throw validationError(`counts.${i}.asset_id`, '同一条台账记录只能盘点一次');
    seen.add(c.asset_id);
  });
  return inTransaction(db, async (trx) => {
    if (!(await trx('departments').where({ id: departmentId }).first('id'))) throw new AppError('NOT_FOUND', '没有这个单位');
    const inUse = (
      await trx('software_assets')
        .where({ department_id: departmentId, status: 'in_use' })
        .orderBy('id')
        .forShare()
        .select('id', 'licences', 'retired_licences')
    ).map((a) => ({ id: String(a.id), licences_in_use: Number(a.licences) - Number(a.retired_licences) }));
    const known = new Set(inUse.map((a) => a.id));
    input.counts.forEach((c, i) => {
      if (!known.has(c.asset_id)) throw validationError(`counts.${i}.asset_id`, '不是本单位在用的台账记录');
    });
    const { lines } = inventoryDifferences(inUse, input.counts);
    const [row] = await trx('inventories').insert({ department_id: departmentId, year: input.year, filed_by: ctx.actor!.id }).returning('*');
    if (lines.length)
      await trx('inventory_counts').insert(lines.map((l) => ({ inventory_id: row.id, asset_id: l.asset_id, expected: l.expected, counted: l.counted })));
    const view = await inventoryView(trx, row);
    await recordAudit(trx, ctx, { action: 'inventory.file', objectType: 'inventory', objectId: view.id, after: view });
    return view;
  });
}

async function lockInventory(trx: Knex.Transaction, id: string) {
  const row = await trx('inventories').where({ id }).forUpdate().first();
  if (!row) throw new AppError('NOT_FOUND', '没有这份盘点');
  if (row.status !== 'submitted') throw new AppError('CONFLICT', '该盘点已审核');
  return row;
}

/** Accepting an inventory retires what was not found, dated the day of acceptance; surpluses stay listed for follow-up. */
export async function acceptInventory(db: Knex, ctx: RequestContext, id: string, note?: string) {
  return inTransaction(db, async (trx) => {
    const row = await lockInventory(trx, id);
    const today = todayInShanghai();
    const missing = await trx('inventory_counts')
      .where({ inventory_id: id })
      .whereRaw('counted < expected')
      .orderBy('asset_id')
      .select('asset_id', 'expected', 'counted');
    for (const m of missing) {
      await retireAsset(
        trx,
        ctx,
        String(m.asset_id),
        { date: today, reason: `${row.year}年度盘点缺失 ${m.expected - m.counted} 套`, licences: m.expected - m.counted },
        id,
      );
    }
    const [after] = await trx('inventories')
      .where({ id })
      .update({ status: 'accepted', reviewed_by: ctx.actor!.id, reviewed_at: trx.fn.now(), review_note: note ?? null })
      .returning('*');
    const view = await inventoryView(trx, after);
    await recordAudit(trx, ctx, {
      action: 'inventory.accept',
      objectType: 'inventory',
      objectId: id,
      before: { status: 'submitted' },
      after: { status: 'accepted', retired: missing.map((m) => String(m.asset_id)) },
    });
    return view;
  });
}

/** Sent back to the unit to count again; it files a new inventory for the year. */
export async function returnInventory(db: Knex, ctx: RequestContext, id: string, reason: string) {
  return inTransaction(db, async (trx) => {
    await lockInventory(trx, id);
    const [after] = await trx('inventories')
      .where({ id })
      .update({ status: 'returned', reviewed_by: ctx.actor!.id, reviewed_at: trx.fn.now(), review_note: reason })
      .returning('*');
    await recordAudit(trx, ctx, {
      action: 'inventory.return',
      objectType: 'inventory',
      objectId: id,
      before: { status: 'submitted' },
      after: { status: 'returned', reason },
    });
    return inventoryView(trx, after);
  });
}

export async function getInventory(db: Knex, actor: Actor, id: string) {
  const row = await scopeToOwnDepartment(db('inventories').where({ id }), actor, 'department_id').first();
  if (!row) throw new AppError('NOT_FOUND', '没有这份盘点');
  return inventoryView(db, row);
}

export async function listInventories(
  db: Knex,
  actor: Actor,
  f: { department_id?: string | undefined; year?: number | undefined; status?: string | undefined; limit?: number | undefined; cursor?: string | undefined },
) {
  if (f.department_id) assertOwnDepartment(actor, f.department_id);
  const limit = f.limit ?? 100;
  const q = scopeToOwnDepartment(db('inventories as i').join('departments as d', 'd.id', 'i.department_id'), actor, 'i.department_id')
    .orderBy('i.id', 'desc')
    .limit(limit + 1)
    .select('i.id', 'i.department_id', 'd.code as department_code', 'd.name as department_name', 'i.year', 'i.status', 'i.filed_at');
  if (f.cursor) q.where('i.id', '<', f.cursor);
  if (f.department_id) q.where('i.department_id', f.department_id);
  if (f.year) q.where('i.year', f.year);
  if (f.status) q.where('i.status', f.status);
  const rows = (await q).map((r) => ({
    id: String(r.id),
    department_id: String(r.department_id),
    department_code: String(r.department_code),
    department_name: String(r.department_name),
    year: Number(r.year),
    status: String(r.status),
    filed_at: (r.filed_at as Date).toISOString(),
  }));
  return pageOf(rows, limit, (r) => r.id);
}

/** Units that have not filed (or had accepted) an inventory for the year: for the progress report. */
export async function unitsWithoutInventory(db: Knex, year: number) {
  const rows = await db('departments as d')
    .whereNotExists(db('inventories as i').whereRaw('i.department_id = d.id').where('i.year', year).whereNot('i.status', 'returned'))
    .orderBy('d.code')
    .select('d.id', 'd.code', 'd.name');
  return rows.map((r) => ({ id: String(r.id), code: String(r.code), name: String(r.name) }));
}
