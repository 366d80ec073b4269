import { z } from 'zod';
import { categoryList } from '../../allocation/allocation-rules.ts';
import { dateOut, idOut, list, moneyOut, page, timestamp } from './common.ts';

const byCategory = <T extends z.ZodType>(value: T) =>
  z.object(Object.fromEntries(categoryList.map((c) => [c, value])) as Record<(typeof categoryList)[number], T>);

export const policy = z.object({
  id: idOut,
  fund_id: idOut,
  version: z.number().int(),
  /** Reward rate per category, with four decimals. */
  rates: byCategory(z.string()),
  licence_caps: byCategory(moneyOut.nullable()),
  department_ceiling: moneyOut.nullable(),
  require_completed: z.boolean(),
  created_by: idOut,
  created_at: timestamp,
});
export const policyPage = page(policy);

const exclusion = z.object({
  department_id: idOut,
  department_code: z.string(),
  department_name: z.string().nullable(),
  reason: z.enum(['not_completed', 'not_accepted', 'no_verified_receipts', 'ceiling_reached', 'nothing_new']),
});

const categoryExplanation = z.object({
  base: moneyOut,
  licences: z.number().int(),
  rate: z.string(),
  cap_per_licence: moneyOut.nullable(),
  reward: z.string(),
  capped_lines: z.number().int(),
});

/** Why a unit gets what it gets: the categories, the ceiling, the factor, and what is clawed back. */
const explanation = z.object({
  qualifies: z.boolean(),
  reason: z.string().nullable(),
  categories: byCategory(categoryExplanation.optional()),
  subtotal: z.string(),
  ceiling: moneyOut.nullable(),
  ceiling_applied: z.boolean(),
  factor: z.string(),
  remainder_fen: z.number().int(),
  receipts: z.array(idOut),
  clawback_basis: z
    .object({
      rejected_receipts: z.array(z.object({ id: idOut, invoice: z.string(), reason: z.string().nullable() })),
      previously_allocated: moneyOut,
      paid: moneyOut,
      payable: moneyOut,
      entitlement: moneyOut,
      clawback: moneyOut,
      to_recover: moneyOut,
      text: z.string(),
    })
    .optional(),
});

const runFields = {
  id: idOut,
  fund_id: idOut,
  policy_id: idOut,
  as_of: dateOut,
  status: z.enum(['draft', 'stale', 'approved', 'cancelled', 'superseded']),
  stale: z.boolean(),
  superseded_by: idOut.nullable(),
  created_by_name: z.string().nullable(),
  approved_by_name: z.string().nullable(),
  available: moneyOut,
  total: moneyOut,
  clawed_back: moneyOut,
  factor: z.string(),
  created_by: idOut,
  created_at: timestamp,
  approved_by: idOut.nullable(),
  approved_at: timestamp.nullable(),
};

export const run = z.object({
  ...runFields,
  excluded: z.array(exclusion),
  lines: z.array(
    z.object({
      department_id: idOut,
      department_code: z.string(),
      department_name: z.string(),
      entitlement: moneyOut,
      previously_allocated: moneyOut,
      due: moneyOut,
      amount: moneyOut,
      clawback: moneyOut,
      to_recover: moneyOut,
      explanation,
      entry_id: idOut.nullable(),
    }),
  ),
});
export const runPage = page(z.object({ ...runFields, excluded_count: z.number().int() }));

export const disbursement = z.object({
  id: idOut,
  fund_id: idOut,
  department_id: idOut,
  kind: z.enum(['payment', 'refund']),
  amount: moneyOut,
  voucher_no: z.string(),
  date: dateOut,
  status: z.enum(['pending', 'approved', 'cancelled']),
  memo: z.string(),
  created_by: idOut,
  created_at: timestamp,
  approved_by: idOut.nullable(),
  approved_at: timestamp.nullable(),
  entry_id: idOut.nullable(),
  run_id: idOut.nullable(),
  department_code: z.string().optional(),
  department_name: z.string().optional(),
  created_by_name: z.string().nullable().optional(),
  approved_by_name: z.string().nullable().optional(),
});
export const disbursementPage = page(disbursement);
export const disbursementList = list(disbursement);

export const position = z.object({
  department_id: idOut,
  department_code: z.string(),
  department_name: z.string(),
  entitlement: moneyOut.nullable(),
  allocated: moneyOut,
  paid: moneyOut,
  payable: moneyOut,
  to_recover: moneyOut,
});
export const positionPage = page(position);
