import { z } from 'zod';
import { postedEntry } from './ledger.ts';
import { dateOut, idOut, list, moneyOut, page, timestamp } from './common.ts';

const findingFields = {
  id: idOut,
  inspection_id: idOut,
  document_no: z.string().nullable(),
  department_id: idOut,
  department_code: z.string().nullable(),
  department_name: z.string().nullable(),
  kind: z.string(),
  description: z.string(),
  unlicensed_installs: z.number().int().nullable(),
  deadline: dateOut,
  status: z.string(),
  overdue: z.boolean(),
  created_by: idOut,
  created_at: timestamp,
  closed_at: timestamp.nullable(),
};

export const inspection = z.object({
  id: idOut,
  document_no: z.string(),
  team: z.array(z.string()),
  date: dateOut,
  created_by: idOut,
  created_at: timestamp,
  units: z.array(z.object({ id: idOut, code: z.string(), name: z.string() })),
  findings: z.array(z.object(findingFields)).optional(),
});

export const inspectionPage = page(
  z.object({ id: idOut, document_no: z.string(), team: z.array(z.string()), date: dateOut, findings: z.number().int(), open: z.number().int() }),
);

export const finding = z.object({
  ...findingFields,
  history: z.array(
    z.object({
      id: idOut,
      kind: z.string(),
      note: z.string(),
      by: z.string().nullable(),
      at: timestamp,
      attachments: z.array(z.object({ id: idOut, file_name: z.string(), sha256: z.string() })),
    }),
  ),
  clawbacks: z.array(
    z.object({
      id: idOut,
      fund_id: idOut,
      fund_name: z.string(),
      amount: moneyOut,
      status: z.string(),
      created_by: idOut,
      approved_by: idOut.nullable(),
      entry_id: idOut.nullable(),
    }),
  ),
});
export const findingPage = page(z.object(findingFields));

export const rectification = z.object({ id: idOut, finding_id: idOut, kind: z.string(), note: z.string(), at: timestamp });

const clawbackFields = {
  id: idOut,
  finding_id: idOut,
  fund_id: idOut,
  department_id: idOut,
  amount: moneyOut,
  status: z.string(),
  created_by: idOut,
  created_at: timestamp,
  approved_by: idOut.nullable(),
  approved_at: timestamp.nullable(),
  entry_id: idOut.nullable(),
};
/** A clawback; once approved, with the entry that posted it. */
export const clawback = z.object({ ...clawbackFields, entry: postedEntry.optional() });
export const clawbackList = list(z.object({ ...clawbackFields, document_no: z.string(), department_code: z.string(), department_name: z.string() }));
