import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { scopeToOwnDepartment } from '../auth/scope.ts';
import type { Actor } from '../auth/roles.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { parseDepartmentsCsv, type DepartmentRow } from './department-rules.ts';
import { pageOf } from '../db/pagination.ts';

const columns = ['id', 'code', 'name', 'group', 'status', 'accepted_on', 'note', 'contact', 'active', 'created_at', 'updated_at'];

export function departmentView(row: Record<string, unknown>) {
  return {
    id: String(row.id),
    code: String(row.code),
    name: String(row.name),
    group: String(row.group),
    status: String(row.status),
    accepted_on: row.accepted_on == null ? null : String(row.accepted_on),
    note: String(row.note ?? ''),
    contact: String(row.contact ?? ''),
    active: row.active !== false,
    created_at: (row.created_at as Date).toISOString(),
    updated_at: (row.updated_at as Date).toISOString(),
  };
}

export interface NewDepartment {
  code: string;
  name: string;
  group: string;
  status?: DepartmentRow['status'] | undefined;
  note?: string | undefined;
}

export async function createDepartment(db: Knex, ctx: RequestContext, input: NewDepartment) {
  return inTransaction(db, async (trx) => {
    const [row] = await trx('departments')
      .insert({ code: input.code, name: input.name, group: input.group, status: input.status ?? 'not_started', note: input.note ?? '' })
      .returning(columns);
    const department = departmentView(row);
    await trx('department_status_changes').insert({
      department_id: row.id,
      status: row.status,
      effective_date: todayInShanghai(),
      note: '登记',
      changed_by: ctx.actor?.id ?? null,
    });
    await recordAudit(trx, ctx, { action: 'department.create', objectType: 'department', objectId: department.id, after: department });
    return department;
  });
}

/** LIKE patterns take the text literally: % and _ typed by a person are not wildcards. */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export interface DepartmentFilter {
  limit: number;
  cursor?: string | undefined;
  group?: string | undefined;
  status?: string | undefined;
  /** Searches code (from its start) and name (anywhere), ignoring case. */
  q?: string | undefined;
  active?: boolean | undefined;
  accepted?: boolean | undefined;
}

export async function listDepartments(db: Knex, actor: Actor, f: DepartmentFilter) {
  const q = scopeToOwnDepartment(
    db('departments')
      .select(columns)
      .orderBy('id')
      .limit(f.limit + 1),
    actor,
    'id',
  );
  if (f.cursor) q.where('id', '>', f.cursor);
  if (f.group) q.where('group', f.group);
  if (f.status) q.where('status', f.status);
  if (f.active !== undefined) q.where('active', f.active);
  if (f.accepted !== undefined) q.where((w) => (f.accepted ? w.whereNotNull('accepted_on') : w.whereNull('accepted_on')));
  const text = f.q?.trim();
  if (text) {
    const literal = likeLiteral(text.toLowerCase());
    q.where((w) => w.whereRaw('lower(code) LIKE ?', [`${literal}%`]).orWhereRaw('lower(name) LIKE ?', [`%${literal}%`]));
  }
  return pageOf((await q).map(departmentView), f.limit, (d) => d.id);
}

export interface DepartmentChange {
  name?: string | undefined;
  group?: string | undefined;
  contact?: string | undefined;
  active?: boolean | undefined;
}

/**
 * Corrects a unit's name, group or contact, or (de)activates it. A unit is never deleted: its
 * receipts, accounts and statements keep pointing at it. Deactivated, it takes no new receipts,
 * status reports, acceptance or users.
 */
export async function updateDepartment(db: Knex, ctx: RequestContext, id: string, change: DepartmentChange) {
  return inTransaction(db, async (trx) => {
    const before = await trx('departments').where({ id }).forUpdate().first(columns);
    if (!before) throw new AppError('NOT_FOUND', '没有这个单位');
    const fields = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
    if (Object.keys(fields).length === 0)
      throw new AppError('VALIDATION_FAILED', '请至少修改一项：名称、分组、联系人或是否启用', [{ field: 'body', message: '没有要修改的内容' }]);
    const [row] = await trx('departments')
      .where({ id })
      .update({ ...fields, updated_at: trx.fn.now() })
      .returning(columns);
    const after = departmentView(row);
    await recordAudit(trx, ctx, {
      action: change.active === false ? 'department.deactivate' : 'department.update',
      objectType: 'department',
      objectId: id,
      before: departmentView(before),
      after,
    });
    return after;
  });
}

export async function getDepartment(db: Knex, actor: Actor, id: string) {
  const row = await scopeToOwnDepartment(db('departments').where({ id }), actor, 'id').first(columns);
  if (!row) throw new AppError('NOT_FOUND', '没有这个单位');
  return departmentView(row);
}

/**
 * Creates or updates units by code; all or nothing. A new unit, or a unit whose status the file
 * changes, gets a status-history entry effective on `effectiveDate` (the date the list describes).
 */
export async function importDepartments(db: Knex, ctx: RequestContext, csv: string, effectiveDate: string = todayInShanghai()) {
  const { rows, errors } = parseDepartmentsCsv(csv);
  if (errors.length) throw new AppError('CSV_INVALID', `文件有 ${errors.length} 处问题，未导入任何内容`, errors);
  return inTransaction(db, async (trx) => {
    const existing = new Map<string, Record<string, unknown>>(
      (
        await trx('departments')
          .whereIn(
            'code',
            rows.map((r) => r.code),
          )
          .forUpdate()
          .select(columns)
      ).map((r) => [r.code, r]),
    );
    let created = 0;
    let updated = 0;
    for (const chunk of chunks(rows, 1000)) {
      const written = await trx('departments')
        .insert(chunk.map((r) => ({ code: r.code, name: r.name, group: r.group, status: r.status, note: r.note })))
        .onConflict('code')
        .merge({
          name: trx.raw('excluded.name'),
          group: trx.raw('excluded.group'),
          status: trx.raw('excluded.status'),
          note: trx.raw('excluded.note'),
          // Acceptance belongs to a completed unit; a file that moves it elsewhere withdraws it.
          accepted_on: trx.raw("CASE WHEN excluded.status = 'completed' THEN departments.accepted_on END"),
          updated_at: trx.fn.now(),
        })
        .returning(columns);
      const changes = written.filter((row) => existing.get(row.code)?.status !== row.status);
      for (const row of written) {
        if (existing.has(row.code)) updated++;
        else created++;
      }
      if (changes.length) {
        await trx('department_status_changes').insert(
          changes.map((row) => ({
            department_id: row.id,
            status: row.status,
            effective_date: effectiveDate,
            note: '批量导入',
            changed_by: ctx.actor?.id ?? null,
          })),
        );
      }
    }
    await recordAudit(trx, ctx, { action: 'department.import', objectType: 'department', after: { created, updated, codes: rows.length } });
    return { created, updated };
  });
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
