import type { Knex } from 'knex';
import { completionChart, fundUseChart, topUnitsChart, unitsByStatusChart, type ChartSize } from '../../reports/charts/charts.ts';
import { groupName } from '../../reports/format.ts';
import type { loadProgress } from './progress.ts';

/* The figures the charts draw, read from the books and the status history, then drawn to SVG. */

type Progress = Awaited<ReturnType<typeof loadProgress>>;

/** The completion rate after each day on which a unit's status changed, up to `asOf`, over the units listed. */
export async function completionHistory(db: Knex, asOf: string, unitIds: string[]): Promise<Array<{ date: string; rate: number }>> {
  if (unitIds.length === 0) return [];
  const changes = await db('department_status_changes')
    .whereIn('department_id', unitIds)
    .where('effective_date', '<=', asOf)
    .orderBy([{ column: 'effective_date' }, { column: 'id' }])
    .select('department_id', 'status', 'effective_date');
  const status = new Map<string, string>();
  const points: Array<{ date: string; rate: number }> = [];
  for (const c of changes) {
    status.set(String(c.department_id), String(c.status));
    const date = String(c.effective_date);
    const completed = [...status.values()].filter((s) => s === 'completed').length;
    const point = { date, rate: completed / unitIds.length };
    if (points.length && points[points.length - 1]!.date === date) points[points.length - 1] = point;
    else points.push(point);
  }
  // The line runs on to the day the report is as of: the rate holds until the next change.
  const last = points[points.length - 1];
  if (last && last.date < asOf) points.push({ date: asOf, rate: last.rate });
  return points;
}

/** Units by status and group, and completion over time against the target: for the progress page and the bulletin. */
export async function progressCharts(db: Knex, report: Progress, size: { status: ChartSize; completion: ChartSize }) {
  const ids = (['completed', 'procuring', 'awaiting_funds', 'not_started'] as const).flatMap((s) => report.units[s].map((u) => u.id));
  const points = await completionHistory(db, report.as_of, ids);
  const target = report.target ? { date: report.target.target_date, rate: Number(report.target.target_rate) } : null;
  const [byStatus, completion] = await Promise.all([
    unitsByStatusChart(
      report.by_status,
      Object.entries(report.by_group).map(([group, c]) => ({ group: groupName(group), counts: c })),
      size.status,
    ),
    completionChart(points, target, size.completion),
  ]);
  return { byStatus, completion };
}

/** The fund's money (appropriated, allocated, paid, available) and its ten largest rewards. */
export async function fundCharts(
  db: Knex,
  fund: { id: string; appropriated: string; allocated: string; disbursed: string; available_to_allocate: string },
  size: ChartSize,
) {
  const top = await db('fund_unit_figures as u')
    .join('departments as d', 'd.id', 'u.department_id')
    .where('u.fund_id', fund.id)
    .where('u.allocated', '>', 0)
    .orderBy([{ column: 'u.allocated', order: 'desc' }, { column: 'd.code' }])
    .limit(10)
    .select('d.name', 'u.allocated');
  const [use, topUnits] = await Promise.all([
    fundUseChart(fund, size),
    top.length
      ? topUnitsChart(
          top.map((r) => ({ name: String(r.name), allocated: String(r.allocated) })),
          { width: size.width, height: 60 + 26 * top.length },
        )
      : null,
  ]);
  return { use, topUnits };
}
