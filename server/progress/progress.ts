import type { Knex } from 'knex';
import { todayInShanghai } from '../http/schemas.ts';
import { progressReport, type Deadline, type UnitStatus } from './progress-rules.ts';
import { programmeOutlook } from './programme.ts';

/** The deadline in force: the one set most recently. */
export async function currentDeadline(db: Knex): Promise<Deadline | null> {
  const row = await db('report_deadlines').orderBy('id', 'desc').first('id', 'deadline', 'title');
  return row ? { id: String(row.id), deadline: row.deadline, title: row.title } : null;
}

/** Each unit's status as of a date: its latest change effective on or before it. Units first listed later are left out. */
async function statusesAsOf(db: Knex, asOf: string): Promise<UnitStatus[]> {
  const rows = await db
    .select('d.id', 'd.code', 'd.name', 'd.group', 'c.status')
    .from('departments as d')
    .joinRaw(
      `JOIN LATERAL (SELECT status FROM department_status_changes s
                      WHERE s.department_id = d.id AND s.effective_date <= ?
                      ORDER BY s.effective_date DESC, s.id DESC LIMIT 1) c ON true`,
      [asOf],
    );
  return rows.map((r) => ({ id: String(r.id), code: r.code, name: r.name, group: r.group, status: r.status }));
}

/** Each active unit's status now. */
async function currentStatuses(db: Knex): Promise<UnitStatus[]> {
  const rows = await db('departments').where('active', true).select('id', 'code', 'name', 'group', 'status');
  return rows.map((r) => ({ id: String(r.id), code: r.code, name: r.name, group: r.group, status: r.status }));
}

/** Written reports filed for `deadline` by the end of `date` (Shanghai). */
async function filedBy(db: Knex, deadline: Deadline | null, date: string) {
  if (!deadline) return [];
  const rows = await db('written_reports')
    .where({ deadline_id: deadline.id })
    .whereRaw("(filed_at AT TIME ZONE 'Asia/Shanghai')::date <= ?", [date])
    .select('department_id', 'filed_at');
  return rows.map((r) => ({ department_id: String(r.department_id), filed_at: (r.filed_at as Date).toISOString() }));
}

export async function loadProgress(db: Knex, asOf?: string) {
  const date = asOf ?? todayInShanghai();
  const deadline = currentDeadline(db);
  const [units, current, filed] = await Promise.all([
    asOf ? statusesAsOf(db, asOf) : currentStatuses(db),
    deadline,
    deadline.then((d) => filedBy(db, d, date)),
  ]);
  const report = progressReport(units, date, current, filed);
  return { ...report, ...(await programmeOutlook(db, report, current)) };
}
