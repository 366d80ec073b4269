import { Decimal } from 'decimal.js';
import { type departmentStatuses } from '../departments/department-rules.ts';

export type Status = (typeof departmentStatuses)[number];

export interface UnitStatus {
  id: string;
  code: string;
  name: string;
  group: string;
  status: Status;
}

export interface WrittenReportState {
  department_id: string;
  filed_at: string;
}

export interface Deadline {
  id: string;
  deadline: string;
  title: string;
}

type Counts = Record<Status, number>;
const emptyCounts = (): Counts => ({ completed: 0, procuring: 0, awaiting_funds: 0, not_started: 0 });

/** The one place a rate is rounded: four decimals, half up (31/71 → "0.4366"). */
export function rate(part: number, whole: number): string {
  if (whole === 0) return '0.0000';
  return new Decimal(part).div(whole).toDecimalPlaces(4, Decimal.ROUND_HALF_UP).toFixed(4);
}

/**
 * The notice's own report: counts per status and per group, the completion rate, and the projected
 * rate if every unit that has arranged or requested funds finishes. Units still `not_started` owe a
 * written report once a deadline is set; after it they are overdue until they file.
 */
export function progressReport(units: UnitStatus[], asOf: string, deadline: Deadline | null, filed: WrittenReportState[]) {
  const byStatus = emptyCounts();
  const byGroup: Record<string, Counts & { total: number }> = {};
  const lists: Record<Status, Array<{ id: string; code: string; name: string }>> = { completed: [], procuring: [], awaiting_funds: [], not_started: [] };
  for (const u of [...units].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0))) {
    byStatus[u.status]++;
    const g = (byGroup[u.group] ??= { total: 0, ...emptyCounts() });
    g.total++;
    g[u.status]++;
    lists[u.status].push({ id: u.id, code: u.code, name: u.name });
  }
  const total = units.length;
  const filedBy = new Map(filed.map((f) => [f.department_id, f.filed_at]));
  const owing = lists.not_started;
  const reports = deadline && {
    deadline: deadline.deadline,
    title: deadline.title,
    past_deadline: asOf > deadline.deadline,
    filed: owing.filter((u) => filedBy.has(u.id)).map((u) => ({ ...u, filed_at: filedBy.get(u.id)! })),
    owed: owing.filter((u) => !filedBy.has(u.id)),
    overdue: asOf > deadline.deadline ? owing.filter((u) => !filedBy.has(u.id)) : [],
  };
  return {
    as_of: asOf,
    total,
    by_status: byStatus,
    completion_rate: rate(byStatus.completed, total),
    projected_rate: rate(byStatus.completed + byStatus.procuring + byStatus.awaiting_funds, total),
    by_group: byGroup,
    units: lists,
    written_reports: reports,
  };
}

export type ProgressReport = ReturnType<typeof progressReport>;
