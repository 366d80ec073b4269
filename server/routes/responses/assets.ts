import { z } from 'zod';
import { assetStatuses } from '../../assets/register.ts';
import { dateOut, idOut, moneyOut, page, timestamp } from './common.ts';

const rate = z.string().nullable();
const licences = z.object({ os: z.number().int(), office: z.number().int(), antivirus: z.number().int() });
/** Compliance of units pooled: licensed computers ÷ computers per category; null where no unit reported computers. */
const pooled = z.object({
  units: z.number().int(),
  reported: z.number().int(),
  computers: z.number().int(),
  os: rate,
  office: rate,
  antivirus: rate,
  overall: rate,
});

export const compliance = z.object({
  items: z.array(
    z.object({
      department_id: idOut,
      department_code: z.string(),
      name: z.string(),
      group: z.string(),
      computers: z.number().int().nullable(),
      licences,
      os: rate,
      office: rate,
      antivirus: rate,
      overall: rate,
    }),
  ),
  overall: pooled,
  by_group: z.record(z.string(), pooled),
});

// 8 samples
const assetFields = {
  id: idOut,
  department_id: idOut,
  product: z.string(),
  category: z.string(),
  licences: z.number().int(),
  licences_in_use: z.number().int(),
  retired_licences: z.number().int(),
  licence_kind: z.string(),
  acquired_on: dateOut,
  value: moneyOut,
  source: z.string(),
  receipt_id: idOut.nullable(),
  receipt_line_no: z.number().int().nullable(),
  note: z.string(),
  status: z.enum(assetStatuses),
  status_reason: z.string().nullable(),
  created_by: idOut,
  created_at: timestamp,
  reviewed_by: idOut.nullable(),
};
/** A register line; read one by one, with its retirements and scans. */
export const asset = z.object({
  ...assetFields,
  retirements: z
    .array(
      z.object({
        licences: z.number().int(),
        retired_on: dateOut,
        reason: z.string(),
        inventory_id: idOut.nullable(),
        retired_by: idOut,
        at: timestamp,
      }),
    )
    .optional(),
  attachments: z
    .array(
      z.object({
        id: idOut,
        sha256: z.string(),
        file_name: z.string(),
        uploaded_at: timestamp,
      }),
    )
    .optional(),
});
export const assetPage = page(z.object(assetFields));

// 8 samples
export const installedBase = z.object({
  id: idOut,
  department_id: idOut,
  as_of: dateOut,
  computers: z.number().int(),
  servers: z.number().int(),
  reported_by: idOut,
  reported_at: timestamp,
});

// 6 samples
export const unitCompliance = z.object({ installed_base: installedBase.nullable(), licences, os: rate, office: rate, antivirus: rate, overall: rate });

// 6 samples
export const inventory = z.object({
  id: idOut,
  department_id: idOut,
  year: z.number().int(),
  status: z.enum(['submitted', 'accepted', 'returned']),
  filed_by: idOut,
  filed_at: timestamp,
  reviewed_by: idOut.nullable(),
  review_note: z.string().nullable(),
  lines: z.array(
    z.object({
      asset_id: idOut,
      product: z.string(),
      category: z.string(),
      expected: z.number().int(),
      counted: z.number().int(),
    }),
  ),
  differences: z.array(
    z.object({
      asset_id: idOut,
      product: z.string(),
      category: z.string(),
      expected: z.number().int(),
      counted: z.number().int(),
      kind: z.string(),
      difference: z.number().int(),
    }),
  ),
});

export const inventoryPage = page(
  z.object({
    id: idOut,
    department_id: idOut,
    department_code: z.string(),
    department_name: z.string(),
    year: z.number().int(),
    status: z.enum(['submitted', 'accepted', 'returned']),
    filed_at: timestamp,
  }),
);
