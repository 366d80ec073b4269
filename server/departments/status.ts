import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, describeProblems, validationError, type FieldError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { departmentView } from './departments.ts';
import { departmentStatusNames } from '../../reports/format.ts';
import type { departmentStatuses } from './department-rules.ts';

export type DepartmentStatus = (typeof departmentStatuses)[number];

export interface StatusChange {
  status: DepartmentStatus;
  effective_date: string;
  note?: string | undefined;
  accepted_on?: string | undefined;
}

/** The order a unit moves through; moving back is an accountant's act with a reason. */
export const statusRank: Record<DepartmentStatus, number> = { not_started: 0, procuring: 1, awaiting_funds: 2, completed: 3 };
const statusWords = departmentStatusNames;

/** The rules of a status change that need no database: who may record acceptance, and sensible dates. */
export function statusChangeProblems(c: StatusChange, today: string): FieldError[] {
  const problems: FieldError[] = [];
  if (c.effective_date > today) problems.push({ field: 'effective_date', message: `不能晚于今天（${today}）` });
  if (c.accepted_on !== undefined) {
    if (c.status !== 'completed') problems.push({ field: 'accepted_on', message: '只有已完成的单位才能验收' });
    if (c.accepted_on > today) problems.push({ field: 'accepted_on', message: `不能晚于今天（${today}）` });
    if (c.accepted_on < c.effective_date) problems.push({ field: 'accepted_on', message: '不能早于完成日期' });
  }
  return problems;
}

/** Records a status change (and, for an accountant, acceptance); every change is kept. */
export async function changeStatus(db: Knex, ctx: RequestContext, departmentId: string, change: StatusChange) {
  const actor = ctx.actor!;
  assertOwnDepartment(actor, departmentId);
  if (change.accepted_on !== undefined && actor.role !== 'accountant') {
    throw new AppError('FORBIDDEN', '只有会计可以记录验收');
  }
  const problems = statusChangeProblems(change, todayInShanghai());
  if (problems.length) throw new AppError('VALIDATION_FAILED', describeProblems(problems), problems);
  return inTransaction(db, async (trx) => {
    const before = await trx('departments').where({ id: departmentId }).forUpdate().first();
    if (!before) throw new AppError('NOT_FOUND', '没有这个单位');
    if (!before.active) throw new AppError('CONFLICT', '该单位已停用，不能再记录状态');
    if (before.accepted_on && actor.role !== 'accountant' && change.status !== 'completed') {
      throw new AppError('CONFLICT', '该单位已验收，只有会计可以更改其状态');
    }
    if (statusRank[change.status] < statusRank[before.status as DepartmentStatus]) {
      // Status feeds progress, the bulletin and who gets money: a move back is reviewed, not reported.
      if (actor.role !== 'accountant') {
        throw new AppError(
          'STATUS_REGRESSION',
          `单位只能向前报告状态，不能从“${statusWords[before.status]}”退回到“${statusWords[change.status]}”。如确需更正，请联系财政厅会计说明理由，由会计办理。`,
        );
      }
      if (!change.note?.trim()) {
        const words = `将状态从“${statusWords[before.status]}”退回到“${statusWords[change.status]}”须填写理由`;
        throw new AppError('VALIDATION_FAILED', words, [{ field: 'note', message: '退回到之前的状态须填写理由' }]);
      }
    }
    const acceptedOn = change.accepted_on ?? (change.status === 'completed' ? before.accepted_on : null);
    await trx('department_status_changes').insert({
      department_id: departmentId,
      status: change.status,
      effective_date: change.effective_date,
      accepted_on: acceptedOn,
      note: change.note ?? '',
      changed_by: actor.id,
    });
    const [row] = await trx('departments')
      .where({ id: departmentId })
      .update({ status: change.status, accepted_on: acceptedOn, updated_at: trx.fn.now() })
      .returning('*');
    const after = departmentView(row);
    await recordAudit(trx, ctx, {
      action: 'department.status',
      objectType: 'department',
      objectId: departmentId,
      before: { status: before.status, accepted_on: before.accepted_on },
      after: { status: row.status, accepted_on: row.accepted_on, effective_date: change.effective_date, note: change.note ?? '' },
    });
    return after;
  });
}

export async function statusHistory(db: Knex, actor: Actor, departmentId: string) {
  assertOwnDepartment(actor, departmentId);
  if (!(await db('departments').where({ id: departmentId }).first('id'))) throw new AppError('NOT_FOUND', '没有这个单位');
  const rows = await db('department_status_changes as c')
    .leftJoin('users as u', 'u.id', 'c.changed_by')
    .where('c.department_id', departmentId)
    .orderBy([
      { column: 'c.effective_date', order: 'desc' },
      { column: 'c.id', order: 'desc' },
    ])
    .select('c.id', 'c.status', 'c.effective_date', 'c.accepted_on', 'c.note', 'c.changed_by', 'u.username', 'c.changed_at');
  return {
    items: rows.map((r) => ({
      id: String(r.id),
      status: r.status,
      effective_date: r.effective_date,
      accepted_on: r.accepted_on,
      note: r.note,
      changed_by: r.changed_by == null ? null : String(r.changed_by),
      changed_by_username: r.username ?? null,
      changed_at: (r.changed_at as Date).toISOString(),
    })),
  };
}

/**
 * Acceptance (验收) for many units in one request, all or none: each must be an active, completed
 * unit, and the date no later than today nor before the unit completed.
 */
export async function acceptDepartments(db: Knex, ctx: RequestContext, departmentIds: string[], acceptedOn: string) {
  const today = todayInShanghai();
  if (acceptedOn > today) throw validationError('accepted_on', `不能晚于今天（${today}）`);
  const ids = [...new Set(departmentIds)].sort((a, b) => Number(a) - Number(b));
  return inTransaction(db, async (trx) => {
    // Locked in id order, so two overlapping acceptances cannot deadlock.
    const rows = await trx('departments').whereIn('id', ids).orderBy('id').forUpdate().select('id', 'code', 'name', 'status', 'active', 'accepted_on');
    if (rows.length !== ids.length) {
      const found = new Set(rows.map((r) => String(r.id)));
      throw new AppError('NOT_FOUND', `没有编号为 ${ids.filter((id) => !found.has(id)).join('、')} 的单位`);
    }
    const completedOn = new Map<string, string>(
      (
        await trx('department_status_changes')
          .whereIn('department_id', ids)
          .where('status', 'completed')
          .groupBy('department_id')
          .select('department_id', trx.raw('max(effective_date)::text AS since'))
      ).map((r) => [String(r.department_id), String(r.since)]),
    );
    const problems = rows.flatMap((r) => {
      const who = `${r.name}（${r.code}）`;
      if (!r.active) return [{ field: `department_ids.${r.id}`, message: `${who}已停用` }];
      if (r.status !== 'completed') return [{ field: `department_ids.${r.id}`, message: `${who}尚未完成正版化（当前：${statusWords[r.status]}）` }];
      const since = completedOn.get(String(r.id));
      if (since && acceptedOn < since) return [{ field: `department_ids.${r.id}`, message: `${who}于 ${since} 完成，验收日期不能更早` }];
      return [];
    });
    if (problems.length) throw new AppError('CONFLICT', `未记录任何验收：${problems.map((p) => p.message).join('；')}`, problems);
    await trx('department_status_changes').insert(
      rows.map((r) => ({
        department_id: r.id,
        status: 'completed',
        effective_date: acceptedOn,
        accepted_on: acceptedOn,
        note: '验收合格',
        changed_by: ctx.actor!.id,
      })),
    );
    await trx('departments').whereIn('id', ids).update({ accepted_on: acceptedOn, updated_at: trx.fn.now() });
    await recordAudit(trx, ctx, { action: 'department.accept', objectType: 'department', after: { accepted_on: acceptedOn, department_ids: ids } });
    return { accepted: ids.length, accepted_on: acceptedOn, items: rows.map((r) => ({ id: String(r.id), code: String(r.code), name: String(r.name) })) };
  });
}
