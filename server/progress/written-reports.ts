import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import type { Actor } from '../auth/roles.ts';
import { assertOwnDepartment } from '../auth/scope.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { currentDeadline } from './progress.ts';

/** Sets the date after which units that have not started owe a written report (专题书面报告). */
export async function setDeadline(db: Knex, ctx: RequestContext, input: { deadline: string; title: string }) {
  return inTransaction(db, async (trx) => {
    const [row] = await trx('report_deadlines')
      .insert({ ...input, created_by: ctx.actor!.id })
      .returning(['id', 'deadline', 'title']);
    const deadline = { id: String(row.id), deadline: row.deadline, title: row.title };
    await recordAudit(trx, ctx, { action: 'progress.deadline', objectType: 'report_deadline', objectId: deadline.id, after: deadline });
    return deadline;
  });
}

function reportView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    department_id: String(r.department_id),
    deadline_id: String(r.deadline_id),
    body: String(r.body),
    filed_by: String(r.filed_by),
    filed_at: (r.filed_at as Date).toISOString(),
  };
}

/** A unit that has not started files its written explanation, once per deadline. */
export async function fileWrittenReport(db: Knex, ctx: RequestContext, departmentId: string, body: string) {
  assertOwnDepartment(ctx.actor!, departmentId);
  return inTransaction(db, async (trx) => {
    const department = await trx('departments').where({ id: departmentId }).first('id', 'status');
    if (!department) throw new AppError('NOT_FOUND', '没有这个单位');
    const deadline = await currentDeadline(trx);
    if (!deadline) throw new AppError('CONFLICT', '尚未要求报送书面报告');
    if (department.status !== 'not_started') throw new AppError('CONFLICT', '只有未开展的单位需要报送书面报告');
    // A second report for the same deadline violates written_reports_once: 409 DUPLICATE.
    const [row] = await trx('written_reports').insert({ department_id: departmentId, deadline_id: deadline.id, body, filed_by: ctx.actor!.id }).returning('*');
    const report = reportView(row);
    await recordAudit(trx, ctx, { action: 'progress.written_report', objectType: 'written_report', objectId: report.id, after: report });
    return report;
  });
}

export async function listWrittenReports(db: Knex, actor: Actor, departmentId: string) {
  assertOwnDepartment(actor, departmentId);
  const rows = await db('written_reports').where({ department_id: departmentId }).orderBy('id', 'desc');
  return { items: rows.map(reportView) };
}

/** The report, if the actor may see it (its own department, or staff). */
export async function findWrittenReport(db: Knex, actor: Actor, id: string) {
  const row = await db('written_reports').where({ id }).first();
  if (!row || (actor.role === 'department' && String(row.department_id) !== actor.departmentId)) throw new AppError('NOT_FOUND', '没有这份报告');
  return reportView(row);
}
