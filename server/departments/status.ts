import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, type FieldError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { departmentView } from './departments.ts';
import type { departmentStatuses } from './department-rules.ts';

export type DepartmentStatus = (typeof departmentStatuses)[number];

export interface StatusChange {
  status: DepartmentStatus;
  effective_date: string;
  note?: string | undefined;
  accepted_on?: string | undefined;
}

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
  if (problems.length) throw new AppError('VALIDATION_FAILED', problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
  return inTransaction(db, async (trx) => {
    const before = await trx('departments').where({ id: departmentId }).forUpdate().first();
    if (!before) throw new AppError('NOT_FOUND', '没有这个单位');
    if (before.accepted_on && actor.role !== 'accountant') {
      throw new AppError('CONFLICT', '该单位已验收，只有会计可以更改其状态');
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
    .orderBy([{ column: 'c.effective_date', order: 'desc' }, { column: 'c.id', order: 'desc' }])
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
