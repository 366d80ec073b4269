import { z } from 'zod';
import { departmentStatuses } from '../../departments/department-rules.ts';
import { dateOut, idOut, list, page, timestamp } from './common.ts';

const status = z.enum(departmentStatuses);
const unit = z.object({ id: idOut, code: z.string(), name: z.string() });
const escalation = z.object({ department_id: idOut, department_code: z.string(), name: z.string(), status, due: dateOut, overdue: z.boolean() });
const counts = z.object({
  total: z.number().int(),
  completed: z.number().int(),
  procuring: z.number().int(),
  awaiting_funds: z.number().int(),
  not_started: z.number().int(),
});

// 65 samples
export const department = z.object({
  id: idOut,
  code: z.string(),
  name: z.string(),
  group: z.string(),
  status,
  accepted_on: dateOut.nullable(),
  note: z.string(),
  contact: z.string(),
  active: z.boolean(),
  created_at: timestamp,
  updated_at: timestamp,
});

// 18 samples
export const departmentPage = page(department);

// 3 samples
export const departmentImport = z.object({
  created: z.number().int(),
  updated: z.number().int(),
});

// 7 samples
export const escalationList = z.object({ deadline: dateOut.nullable(), items: z.array(escalation) });

// 2 samples
export const target = z.object({
  target_date: dateOut,
  target_rate: z.string(),
  in_person_days: z.number().int(),
  procuring_days_max: z.number().int(),
});

// 1 samples
export const acceptance = z.object({
  accepted: z.number().int(),
  accepted_on: dateOut,
  items: z.array(unit),
});

// 1 samples
export const statusHistoryList = z.object({
  items: z.array(
    z.object({
      id: idOut,
      status,
      effective_date: dateOut,
      accepted_on: dateOut.nullable(),
      note: z.string(),
      changed_by: idOut.nullable(),
      changed_by_username: z.string().nullable(),
      changed_at: timestamp,
    }),
  ),
});

// 18 samples
export const progress = z.object({
  as_of: dateOut,
  total: z.number().int(),
  by_status: counts.omit({ total: true }),
  completion_rate: z.string(),
  projected_rate: z.string(),
  by_group: z.record(z.string(), counts),
  units: z.object({
    completed: z.array(unit),
    procuring: z.array(unit),
    awaiting_funds: z.array(unit),
    not_started: z.array(unit),
  }),
  written_reports: z
    .object({
      deadline: dateOut,
      title: z.string(),
      past_deadline: z.boolean(),
      filed: z.array(
        z.object({
          id: idOut,
          code: z.string(),
          name: z.string(),
          filed_at: timestamp,
        }),
      ),
      owed: z.array(unit),
      overdue: z.array(unit),
    })
    .nullable(),
  target: z
    .object({
      target_date: dateOut,
      target_rate: z.string(),
      in_person_days: z.number().int(),
      procuring_days_max: z.number().int(),
      projected_rate: z.string(),
      completion_rate: z.string(),
      on_track: z.boolean(),
      shortfall: z.string(),
      days_left: z.number().int(),
    })
    .nullable(),
  at_risk: z.array(
    z.object({
      id: idOut,
      code: z.string(),
      name: z.string(),
      reasons: z.array(z.string()),
      status_since: dateOut.nullable(),
      open_findings: z.number().int(),
    }),
  ),
  escalations: z.array(escalation),
  inventories: z.object({
    year: z.number().int(),
    missing: z.array(unit),
  }),
});

// 3 samples
export const deadline = z.object({
  id: idOut,
  deadline: dateOut,
  title: z.string(),
});

// 3 samples
export const writtenReport = z.object({
  id: idOut,
  department_id: idOut,
  deadline_id: idOut,
  body: z.string(),
  filed_by: idOut,
  filed_at: timestamp,
});

// 2 samples
export const writtenReportList = list(writtenReport);
