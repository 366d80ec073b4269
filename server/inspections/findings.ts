import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { scopeToOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { calendarDate, idParam, todayInShanghai } from '../http/schemas.ts';

export const findingKinds = ['unlicensed_installs', 'register_mismatch', 'other'] as const;

export const findingBody = z.strictObject({
  department_id: idParam,
  kind: z.enum(findingKinds, { error: `须为 ${findingKinds.join('、')} 之一` }),
  description: z.string().trim().min(1, '请描述发现的问题').max(5000),
  unlicensed_installs: z.number({ error: '须为整数' }).int('须为整数').min(1, '至少为 1').max(10_000_000).optional(),
  deadline: calendarDate,
});

export const noteBody = z.strictObject({ note: z.string().trim().min(1, '请填写说明').max(5000) });

export function findingView(f: Record<string, unknown>, today = todayInShanghai()) {
  const status = String(f.status);
  return {
    id: String(f.id),
    inspection_id: String(f.inspection_id),
    document_no: f.document_no == null ? null : String(f.document_no),
    department_id: String(f.department_id),
    department_code: f.department_code == null ? null : String(f.department_code),
    department_name: f.department_name == null ? null : String(f.department_name),
    kind: String(f.kind),
    description: String(f.description),
    unlicensed_installs: f.unlicensed_installs == null ? null : Number(f.unlicensed_installs),
    deadline: String(f.deadline),
    status,
    overdue: status !== 'closed' && String(f.deadline) < today,
    created_by: String(f.created_by),
    created_at: (f.created_at as Date).toISOString(),
    closed_at: f.closed_at == null ? null : (f.closed_at as Date).toISOString(),
  };
}

const findingsQuery = (db: Knex) =>
  db('findings as f')
    .join('departments as d', 'd.id', 'f.department_id')
    .join('inspections as i', 'i.id', 'f.inspection_id')
    .select('f.*', 'd.code as department_code', 'd.name as department_name', 'i.document_no');

/** A finding of one unit; the kind says what else it needs (unlicensed installs carry their number). */
export async function addFinding(db: Knex, ctx: RequestContext, inspectionId: string, input: z.output<typeof findingBody>) {
  if ((input.kind === 'unlicensed_installs') !== (input.unlicensed_installs !== undefined)) {
    throw validationError('unlicensed_installs', input.kind === 'unlicensed_installs' ? '请填写发现的未授权安装数量' : '只有“未授权安装”类问题填写数量');
  }
  return inTransaction(db, async (trx) => {
    const inspection = await trx('inspections').where({ id: inspectionId }).first('id', 'inspected_on');
    if (!inspection) throw new AppError('NOT_FOUND', '没有这次督查');
    if (input.deadline < String(inspection.inspected_on)) throw validationError('deadline', '整改期限不能早于督查日期');
    if (!(await trx('inspection_units').where({ inspection_id: inspectionId, department_id: input.department_id }).first('department_id'))) {
      throw validationError('department_id', '该单位不在本次督查的单位之中');
    }
    const [row] = await trx('findings')
      .insert({
        inspection_id: inspectionId,
        department_id: input.department_id,
        kind: input.kind,
        description: input.description,
        unlicensed_installs: input.unlicensed_installs ?? null,
        deadline: input.deadline,
        created_by: ctx.actor!.id,
      })
      .returning('id');
    const finding = await getFinding(trx, ctx.actor!, String(row.id));
    await recordAudit(trx, ctx, { action: 'finding.create', objectType: 'finding', objectId: finding.id, after: finding });
    return finding;
  });
}

/** A finding with its history, scans and clawbacks; another unit's is not found. */
export async function getFinding(db: Knex, actor: Actor, id: string) {
  const row = await scopeToOwnDepartment(findingsQuery(db).where('f.id', id), actor, 'f.department_id').first();
  if (!row) throw new AppError('NOT_FOUND', '没有这项督查发现');
  const events = await db('finding_events as e')
    .join('users as u', 'u.id', 'e.actor_id')
    .where('e.finding_id', id)
    .orderBy('e.id')
    .select('e.id', 'e.kind', 'e.note', 'e.at', 'u.username');
  const scans = events.length
    ? await db('attachments')
        .whereIn(
          'finding_event_id',
          events.map((e) => e.id),
        )
        .orderBy('id')
        .select('id', 'finding_event_id', 'file_name', 'sha256')
    : [];
  const clawbacks = await db('finding_clawbacks as c')
    .join('funds as fu', 'fu.id', 'c.fund_id')
    .where('c.finding_id', id)
    .orderBy('c.id')
    .select('c.id', 'c.fund_id', 'fu.name as fund_name', 'c.amount', 'c.status', 'c.created_by', 'c.approved_by', 'c.entry_id');
  return {
    ...findingView(row),
    history: events.map((e) => ({
      id: String(e.id),
      kind: e.kind,
      note: e.note,
      by: e.username,
      at: (e.at as Date).toISOString(),
      attachments: scans
        .filter((s) => String(s.finding_event_id) === String(e.id))
        .map((s) => ({ id: String(s.id), file_name: s.file_name, sha256: s.sha256 })),
    })),
    clawbacks: clawbacks.map((c) => ({
      id: String(c.id),
      fund_id: String(c.fund_id),
      fund_name: String(c.fund_name),
      amount: String(c.amount),
      status: c.status,
      created_by: String(c.created_by),
      approved_by: c.approved_by == null ? null : String(c.approved_by),
      entry_id: c.entry_id == null ? null : String(c.entry_id),
    })),
  };
}

export interface FindingFilter {
  department_id?: string | undefined;
  inspection_id?: string | undefined;
  status?: string | undefined;
  overdue?: boolean | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Findings, newest first; `overdue` lists those past their rectification deadline and not closed. */
export async function listFindings(db: Knex, actor: Actor, f: FindingFilter) {
  const today = todayInShanghai();
  const q = scopeToOwnDepartment(findingsQuery(db), actor, 'f.department_id')
    .orderBy('f.id', 'desc')
    .limit(f.limit + 1);
  if (f.cursor) q.where('f.id', '<', f.cursor);
  if (f.department_id) q.where('f.department_id', f.department_id);
  if (f.inspection_id) q.where('f.inspection_id', f.inspection_id);
  if (f.status) q.where('f.status', f.status);
  if (f.overdue) q.whereNot('f.status', 'closed').where('f.deadline', '<', today);
  const rows = (await q).map((r) => findingView(r, today));
  const items = rows.slice(0, f.limit);
  return { items, next_cursor: rows.length > f.limit ? items[items.length - 1]!.id : null };
}

/** Findings not yet closed, the earliest deadline first: what the bulletin names. */
export async function openFindings(db: Knex, limit = 1000) {
  const today = todayInShanghai();
  return (
    await findingsQuery(db)
      .whereNot('f.status', 'closed')
      .orderBy([{ column: 'f.deadline' }, { column: 'f.id' }])
      .limit(limit)
  ).map((r) => findingView(r, today));
}

async function lockFinding(trx: Knex.Transaction, actor: Actor, id: string) {
  const row = await scopeToOwnDepartment(trx('findings').where({ id }), actor, 'department_id').forUpdate().first();
  if (!row) throw new AppError('NOT_FOUND', '没有这项督查发现');
  if (row.status === 'closed') throw new AppError('CONFLICT', '该问题已销号，不能再变更');
  return row;
}

/** The unit's answer (整改情况): a note, scans attached to it afterwards; the finding awaits the inspector. */
export async function rectify(db: Knex, ctx: RequestContext, findingId: string, note: string) {
  return inTransaction(db, async (trx) => {
    const current = await lockFinding(trx, ctx.actor!, findingId);
    const [event] = await trx('finding_events').insert({ finding_id: findingId, kind: 'rectification', note, actor_id: ctx.actor!.id }).returning(['id', 'at']);
    await trx('findings').where({ id: findingId }).update({ status: 'answered' });
    const view = { id: String(event.id), finding_id: findingId, kind: 'rectification', note, at: (event.at as Date).toISOString() };
    await recordAudit(trx, ctx, {
      action: 'finding.rectify',
      objectType: 'finding',
      objectId: findingId,
      before: { status: current.status },
      after: { status: 'answered', rectification: view },
    });
    return view;
  });
}

/** The inspector closes the finding (销号) or keeps it open with what is still missing. */
export async function decideFinding(db: Knex, ctx: RequestContext, findingId: string, decision: 'closed' | 'kept_open', note: string) {
  return inTransaction(db, async (trx) => {
    const current = await lockFinding(trx, ctx.actor!, findingId);
    await trx('finding_events').insert({ finding_id: findingId, kind: decision, note, actor_id: ctx.actor!.id });
    await trx('findings')
      .where({ id: findingId })
      .update(decision === 'closed' ? { status: 'closed', closed_by: ctx.actor!.id, closed_at: trx.fn.now() } : { status: 'open' });
    const after = await getFinding(trx, ctx.actor!, findingId);
    await recordAudit(trx, ctx, {
      action: decision === 'closed' ? 'finding.close' : 'finding.keep_open',
      objectType: 'finding',
      objectId: findingId,
      before: { status: current.status },
      after: { status: after.status, note },
    });
    return after;
  });
}

/** A rectification the actor may attach scans to: its own unit's, while the finding is not closed. */
export async function rectificationForUpload(db: Knex, actor: Actor, eventId: string) {
  const row = await scopeToOwnDepartment(
    db('finding_events as e').join('findings as f', 'f.id', 'e.finding_id').where('e.id', eventId).where('e.kind', 'rectification'),
    actor,
    'f.department_id',
  ).first('e.id', 'f.status');
  if (!row) throw new AppError('NOT_FOUND', '没有这条整改说明');
  if (row.status === 'closed') throw new AppError('CONFLICT', '该问题已销号，不能再上传扫描件');
  return String(row.id);
}
