import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import { unitsWithoutInventory } from '../assets/inventories.ts';
import { complianceReport } from '../assets/compliance.ts';
import { openFindings } from '../inspections/findings.ts';
import { inTransaction } from '../db/transaction.ts';
import type { RequestContext } from '../http/context.ts';
import { calendarDate } from '../http/schemas.ts';
import { currentDeadline } from './progress.ts';
import type { Deadline, ProgressReport } from './progress-rules.ts';

const rate = /^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$/;

export const targetBody = z.strictObject({
  target_date: calendarDate,
  target_rate: z
    .string()
    .regex(rate, '须为 0 到 1 之间、最多四位小数的字符串，如 "1.0000"')
    // zod runs a refinement even when the pattern failed: only a rate that matched is read as a number.
    .refine((s) => !rate.test(s) || new Decimal(s).gt(0), '须大于 0'),
  in_person_days: z.number().int('须为整数').min(0).max(365).optional(),
  procuring_days_max: z.number().int('须为整数').min(1).max(3650).optional(),
});

/** The days after the written-report deadline in which a unit head reports in person, when no target says otherwise. */
const inPersonDays_default = 10;
const procuringDays_default = 60;

export interface ProgrammeTarget {
  target_date: string;
  target_rate: string;
  in_person_days: number;
  procuring_days_max: number;
}

export async function currentTarget(db: Knex): Promise<ProgrammeTarget | null> {
  const row = await db('programme_targets').orderBy('id', 'desc').first();
  return row
    ? {
        target_date: row.target_date,
        target_rate: new Decimal(row.target_rate).toFixed(4),
        in_person_days: row.in_person_days,
        procuring_days_max: row.procuring_days_max,
      }
    : null;
}

/** Sets the programme's target (e.g. 100 % by 2011-10-31, 10月底前); each setting is kept. */
export async function setTarget(db: Knex, ctx: RequestContext, input: z.output<typeof targetBody>) {
  return inTransaction(db, async (trx) => {
    const before = await currentTarget(trx);
    await trx('programme_targets').insert({
      target_date: input.target_date,
      target_rate: input.target_rate,
      in_person_days: input.in_person_days ?? inPersonDays_default,
      procuring_days_max: input.procuring_days_max ?? procuringDays_default,
      set_by: ctx.actor!.id,
    });
    const after = (await currentTarget(trx))!;
    await recordAudit(trx, ctx, { action: 'progress.target', objectType: 'programme_target', before, after });
    return after;
  });
}

const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);

/**
 * Units owing an in-person report by their head (由单位主要领导当面汇报): still `not_started` after the
 * written-report deadline without having filed one. `due` is the deadline plus the target's days.
 */
export async function escalations(db: Knex, asOf: string) {
  const [deadline, target] = await Promise.all([currentDeadline(db), currentTarget(db)]);
  return escalationsOf(db, asOf, deadline, target);
}

async function escalationsOf(db: Knex, asOf: string, deadline: Deadline | null, target: Promise<ProgrammeTarget | null> | ProgrammeTarget | null) {
  if (!deadline || asOf <= deadline.deadline) return { deadline: deadline?.deadline ?? null, items: [] };
  const [rows, t] = await Promise.all([
    db('departments as d')
      .where('d.status', 'not_started')
      .whereNotExists(db('written_reports as w').whereRaw('w.department_id = d.id').where('w.deadline_id', deadline.id))
      .orderBy('d.code')
      .select('d.id', 'd.code', 'd.name', 'd.status'),
    target,
  ]);
  const due = addDays(deadline.deadline, t?.in_person_days ?? inPersonDays_default);
  return {
    deadline: deadline.deadline,
    items: rows.map((r) => ({
      department_id: String(r.id),
      department_code: String(r.code),
      name: String(r.name),
      status: String(r.status),
      due,
      overdue: asOf > due,
    })),
  };
}

/**
 * What the progress report adds for the leading group: the target and the projected rate against
 * it, the units that put it at risk (procuring for long, awaiting funds, open findings), who owes
 * an in-person report, and who has not filed the year's inventory.
 */
export async function programmeOutlook(db: Knex, report: ProgressReport, deadline: Deadline | null) {
  const asOf = report.as_of;
  const year = Number(asOf.slice(0, 4));
  // Independent reads, each on its own connection: the report waits for the slowest, not for their sum.
  // Each unit's latest change walks (department_id, effective_date, id) backwards: no sort.
  const target = currentTarget(db);
  const [since, findings, escalated, missing, goal] = await Promise.all([
    db.raw(
      `SELECT DISTINCT ON (department_id) department_id, effective_date FROM department_status_changes
        WHERE effective_date <= ? ORDER BY department_id DESC, effective_date DESC, id DESC`,
      [asOf],
    ),
    db('findings').whereNot('status', 'closed').groupBy('department_id').select('department_id', db.raw('count(*)::int AS n')),
    escalationsOf(db, asOf, deadline, target),
    unitsWithoutInventory(db, year),
    target,
  ]);
  const statusSince = new Map<string, string>(
    since.rows.map((r: { department_id: string; effective_date: string }) => [String(r.department_id), r.effective_date]),
  );
  const openFindings = new Map<string, number>(findings.map((r) => [String(r.department_id), r.n]));
  const procuringMax = goal?.procuring_days_max ?? procuringDays_default;
  const procuring = new Set(report.units.procuring);
  const awaiting = new Set(report.units.awaiting_funds);
  const atRisk = [...report.units.procuring, ...report.units.awaiting_funds, ...report.units.not_started, ...report.units.completed]
    .map((u) => {
      const reasons: string[] = [];
      const from = statusSince.get(u.id);
      if (procuring.has(u) && from && daysBetween(from, asOf) > procuringMax) reasons.push('procuring_long');
      if (awaiting.has(u)) reasons.push('awaiting_funds');
      if (openFindings.has(u.id)) reasons.push('open_findings');
      return { ...u, reasons, status_since: from ?? null, open_findings: openFindings.get(u.id) ?? 0 };
    })
    .filter((u) => u.reasons.length)
    .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  return {
    target: goal && {
      ...goal,
      projected_rate: report.projected_rate,
      completion_rate: report.completion_rate,
      on_track: new Decimal(report.projected_rate).gte(goal.target_rate),
      shortfall: Decimal.max(new Decimal(goal.target_rate).minus(report.projected_rate), 0).toFixed(4),
      days_left: daysBetween(asOf, goal.target_date),
    },
    at_risk: atRisk,
    escalations: escalated.items,
    inventories: { year, missing },
  };
}

/** The supervision half of the bulletin: compliance, open findings (oldest deadline first), in-person reports owed. */
export async function bulletinSupervision(db: Knex, report: Awaited<ReturnType<typeof programmeOutlook>>) {
  const compliance = await complianceReport(db);
  return {
    target: report.target,
    compliance: { overall: compliance.overall, by_group: compliance.by_group },
    escalations: report.escalations,
    openFindings: await openFindings(db),
  };
}
