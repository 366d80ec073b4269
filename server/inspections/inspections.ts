import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { pgArray } from '../db/pg-array.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { calendarDate, idParam, todayInShanghai } from '../http/schemas.ts';
import { findingView } from './findings.ts';

export const inspectionBody = z.strictObject({
  document_no: z.string().trim().min(1, '请填写督查文号').max(100),
  team: z.array(z.string().trim().min(1, '姓名不能为空').max(50)).min(1, '至少一名督察组成员').max(50),
  date: calendarDate,
  department_ids: z.array(idParam).min(1, '至少督查一个单位').max(5000),
});

function inspectionView(r: Record<string, unknown>, units: Array<{ id: string; code: string; name: string }>) {
  return {
    id: String(r.id),
    document_no: String(r.document_no),
    team: r.team as string[],
    date: String(r.inspected_on),
    created_by: String(r.created_by),
    created_at: (r.created_at as Date).toISOString(),
    units,
  };
}

async function unitsOf(db: Knex, inspectionId: string, actor?: Actor) {
  const q = db('inspection_units as u')
    .join('departments as d', 'd.id', 'u.department_id')
    .where('u.inspection_id', inspectionId)
    .orderBy('d.code')
    .select('d.id', 'd.code', 'd.name');
  if (actor?.role === 'department') q.where('u.department_id', actor.departmentId);
  return (await q).map((d) => ({ id: String(d.id), code: String(d.code), name: String(d.name) }));
}

/** A supervision visit (督查): its document number, team, date and the units it visited. */
export async function createInspection(db: Knex, ctx: RequestContext, input: z.output<typeof inspectionBody>) {
  if (input.date > todayInShanghai()) throw validationError('date', '督查日期不能晚于今天');
  const ids = [...new Set(input.department_ids)];
  return inTransaction(db, async (trx) => {
    const found = await trx('departments')
      .whereRaw('id = ANY(?::bigint[])', [pgArray(ids)])
      .select('id');
    if (found.length !== ids.length) {
      const known = new Set(found.map((d) => String(d.id)));
      throw validationError('department_ids', `没有这些单位：${ids.filter((i) => !known.has(i)).join('、')}`);
    }
    const [row] = await trx('inspections')
      .insert({ document_no: input.document_no, team: JSON.stringify(input.team), inspected_on: input.date, created_by: ctx.actor!.id })
      .returning('*');
    await trx('inspection_units').insert(ids.map((d) => ({ inspection_id: row.id, department_id: d })));
    const view = inspectionView(row, await unitsOf(trx, String(row.id)));
    await recordAudit(trx, ctx, { action: 'inspection.create', objectType: 'inspection', objectId: view.id, after: view });
    return view;
  });
}

/** An inspection with its findings; a unit sees it only if it was visited, and only its own findings. */
export async function getInspection(db: Knex, actor: Actor, id: string) {
  const row = await db('inspections').where({ id }).first();
  const units = row ? await unitsOf(db, id, actor) : [];
  if (!row || (actor.role === 'department' && units.length === 0)) throw new AppError('NOT_FOUND', '没有这次督查');
  const q = db('findings as f')
    .join('departments as d', 'd.id', 'f.department_id')
    .join('inspections as i', 'i.id', 'f.inspection_id')
    .where('f.inspection_id', id)
    .orderBy('f.id')
    .select('f.*', 'd.code as department_code', 'd.name as department_name', 'i.document_no');
  if (actor.role === 'department') q.where('f.department_id', actor.departmentId);
  return { ...inspectionView(row, units), findings: (await q).map((f) => findingView(f)) };
}

export async function listInspections(db: Knex, actor: Actor, page: { limit?: number | undefined; cursor?: string | undefined } = {}) {
  const limit = page.limit ?? 100;
  const q = db('inspections')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .select('*');
  if (page.cursor) q.where('id', '<', page.cursor);
  if (actor.role === 'department')
    q.whereExists(db('inspection_units as u').whereRaw('u.inspection_id = inspections.id').where('u.department_id', actor.departmentId));
  const fetched = await q;
  const rows = fetched.slice(0, limit);
  const counts = new Map<string, { findings: number; open: number }>();
  if (rows.length) {
    const c = db('findings')
      .whereIn(
        'inspection_id',
        rows.map((r) => r.id),
      )
      .groupBy('inspection_id')
      .select('inspection_id', db.raw('count(*)::int AS findings'), db.raw("count(*) FILTER (WHERE status <> 'closed')::int AS open"));
    if (actor.role === 'department') c.where('department_id', actor.departmentId);
    for (const r of await c) counts.set(String(r.inspection_id), { findings: r.findings, open: r.open });
  }
  return {
    items: rows.map((r) => ({
      id: String(r.id),
      document_no: String(r.document_no),
      team: r.team as string[],
      date: String(r.inspected_on),
      ...(counts.get(String(r.id)) ?? { findings: 0, open: 0 }),
    })),
    next_cursor: fetched.length > limit ? String(rows[rows.length - 1]!.id) : null,
  };
}
