import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment, scopeToOwnDepartment } from '../auth/scope.ts';
import { pageOf } from '../db/pagination.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { measuredCategories, type LicencesByCategory } from './asset-rules.ts';

export const assetStatuses = ['pending', 'in_use', 'rejected', 'revoked', 'retired'] as const;

export function assetView(r: Record<string, unknown>) {
  const licences = Number(r.licences);
  const retired = Number(r.retired_licences);
  return {
    id: String(r.id),
    department_id: String(r.department_id),
    product: String(r.product),
    category: String(r.category),
    licences,
    licences_in_use: r.status === 'in_use' ? licences - retired : 0,
    retired_licences: retired,
    licence_kind: String(r.licence_kind),
    acquired_on: String(r.acquired_on),
    value: String(r.value),
    source: String(r.source),
    receipt_id: r.receipt_id == null ? null : String(r.receipt_id),
    receipt_line_no: r.receipt_line_no == null ? null : Number(r.receipt_line_no),
    note: String(r.note),
    status: String(r.status),
    status_reason: r.status_reason == null ? null : String(r.status_reason),
    created_by: String(r.created_by),
    created_at: (r.created_at as Date).toISOString(),
    reviewed_by: r.reviewed_by == null ? null : String(r.reviewed_by),
  };
}

export type AssetView = ReturnType<typeof assetView>;

/**
 * Keeps the register in step with a receipt's verification, inside the review's transaction:
 * verifying puts each line into its unit's register (or back in use, if it was verified before),
 * withdrawing the verification (a later rejection) revokes them. Nothing else writes receipt assets.
 */
export async function syncRegisterWithReceipt(trx: Knex.Transaction, ctx: RequestContext, receiptId: string, from: string, to: string): Promise<void> {
  if (to === 'verified') {
    const inserted = await trx.raw(
      `INSERT INTO software_assets (department_id, product, category, licences, licence_kind, acquired_on, value, source, receipt_id, receipt_line_no, status, created_by)
       SELECT r.department_id, l.product, l.category, l.licences, l.licence_kind, r.issue_date, l.amount, 'receipt', r.id, l.line_no, 'in_use', ?
         FROM receipt_lines l JOIN receipts r ON r.id = l.receipt_id
        WHERE r.id = ?
       ON CONFLICT (receipt_id, receipt_line_no) WHERE source = 'receipt' DO NOTHING
       RETURNING id`,
      [ctx.actor!.id, receiptId],
    );
    const restored = await trx('software_assets')
      .where({ receipt_id: receiptId, status: 'revoked' })
      .update({ status: 'in_use', status_reason: null })
      .returning('id');
    await recordAudit(trx, ctx, {
      action: 'asset.register_from_receipt',
      objectType: 'receipt',
      objectId: receiptId,
      after: { added: inserted.rows.map((r: { id: string }) => String(r.id)), restored: restored.map((r) => String(r.id)) },
    });
  } else if (from === 'verified') {
    const revoked = await trx('software_assets')
      .where({ receipt_id: receiptId, status: 'in_use' })
      .update({ status: 'revoked', status_reason: `来源发票已${to === 'rejected' ? '退回' : '撤销审核'}` })
      .returning('id');
    await recordAudit(trx, ctx, {
      action: 'asset.revoke_with_receipt',
      objectType: 'receipt',
      objectId: receiptId,
      after: { revoked: revoked.map((r) => String(r.id)) },
    });
  }
}

export interface AssetFilter {
  limit: number;
  cursor?: string | undefined;
  status?: string | undefined;
  category?: string | undefined;
}

export async function listAssets(db: Knex, actor: Actor, departmentId: string, f: AssetFilter) {
  assertOwnDepartment(actor, departmentId);
  if (!(await db('departments').where({ id: departmentId }).first('id'))) throw new AppError('NOT_FOUND', '没有这个单位');
  const q = db('software_assets')
    .where({ department_id: departmentId })
    .orderBy('id')
    .limit(f.limit + 1);
  if (f.cursor) q.where('id', '>', f.cursor);
  if (f.status) q.where('status', f.status);
  if (f.category) q.where('category', f.category);
  return pageOf((await q).map(assetView), f.limit, (a) => a.id);
}

/** An asset the actor may see; another unit's is not found. */
export async function getAsset(db: Knex, actor: Actor, id: string) {
  const row = await scopeToOwnDepartment(db('software_assets').where({ id }), actor, 'department_id').first();
  if (!row) throw new AppError('NOT_FOUND', '没有这条台账记录');
  const asset = assetView(row);
  const retirements = await db('asset_retirements')
    .where({ asset_id: id })
    .orderBy('id')
    .select('licences', 'retired_on', 'reason', 'inventory_id', 'retired_by', 'at');
  const attachments = await db('attachments').where({ software_asset_id: id }).orderBy('id').select('id', 'sha256', 'file_name', 'uploaded_at');
  return {
    ...asset,
    retirements: retirements.map((r) => ({
      licences: r.licences,
      retired_on: r.retired_on,
      reason: r.reason,
      inventory_id: r.inventory_id == null ? null : String(r.inventory_id),
      retired_by: String(r.retired_by),
      at: (r.at as Date).toISOString(),
    })),
    attachments: attachments.map((a) => ({ id: String(a.id), sha256: a.sha256, file_name: a.file_name, uploaded_at: (a.uploaded_at as Date).toISOString() })),
  };
}

/** The whole register of a unit, for exports and the register PDF (one unit's register is hundreds of lines, not millions). */
export async function wholeRegister(db: Knex, actor: Actor, departmentId: string) {
  assertOwnDepartment(actor, departmentId);
  const department = await db('departments').where({ id: departmentId }).first('id', 'code', 'name');
  if (!department) throw new AppError('NOT_FOUND', '没有这个单位');
  const rows = await db('software_assets as a')
    .leftJoin('receipts as r', 'r.id', 'a.receipt_id')
    .where('a.department_id', departmentId)
    .orderBy('a.id')
    .select('a.*', 'r.invoice_code', 'r.invoice_number');
  return {
    department: { id: String(department.id), code: String(department.code), name: String(department.name) },
    assets: rows.map((r) => ({ ...assetView(r), invoice: r.invoice_number ? `${r.invoice_code ? `${r.invoice_code}-` : ''}${r.invoice_number}` : null })),
  };
}

/** Licences in use per measured category, for each of the given units (all units when none given). */
export async function licencesInUse(db: Knex, departmentIds?: string[]): Promise<Map<string, LicencesByCategory>> {
  const q = db('software_assets')
    .where({ status: 'in_use' })
    .whereIn('category', measuredCategories as unknown as string[])
    .groupBy('department_id', 'category')
    .select('department_id', 'category', db.raw('sum(licences - retired_licences)::bigint AS n'));
  if (departmentIds) q.whereIn('department_id', departmentIds);
  const out = new Map<string, LicencesByCategory>();
  for (const r of await q) {
    const key = String(r.department_id);
    const held = out.get(key) ?? { os: 0, office: 0, antivirus: 0 };
    held[r.category as keyof LicencesByCategory] = Number(r.n);
    out.set(key, held);
  }
  return out;
}
