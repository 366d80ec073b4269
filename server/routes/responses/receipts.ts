import { z } from 'zod';
import { categories, invoiceKinds } from '../../receipts/receipt-rules.ts';
import { licenceKinds } from '../../assets/asset-rules.ts';
import { dateOut, idOut, list, moneyOut, page, timestamp } from './common.ts';

const receiptStatus = z.enum(['submitted', 'verified', 'rejected', 'withdrawn']);

/** A stored scan: its bytes are named by their SHA-256 and sniffed for their type. */
export const attachmentFile = z.object({
  id: idOut,
  sha256: z.string(),
  media_type: z.enum(['application/pdf', 'image/jpeg', 'image/png']),
  size: z.number().int(),
  file_name: z.string(),
  active_content: z.boolean(),
  uploaded_at: timestamp,
});
/** One uploaded file answers the file; several answer {items}. */
export const attachment = z.union([attachmentFile, list(attachmentFile)]);

const receiptFields = {
  id: idOut,
  fund_id: idOut,
  department_id: idOut,
  department_code: z.string(),
  department_name: z.string(),
  invoice_kind: z.enum(invoiceKinds),
  invoice_code: z.string().nullable(),
  invoice_number: z.string(),
  issue_date: dateOut,
  seller_name: z.string(),
  seller_tax_id: z.string(),
  seller_tax_id_override: z.string().nullable(),
  total: moneyOut,
  tax_amount: moneyOut,
  total_with_tax: moneyOut,
  buyer_name: z.string().nullable(),
  currency: z.string(),
  status: receiptStatus,
  status_reason: z.string().nullable(),
  submitted_by: idOut,
  submitted_at: timestamp,
  reviewed_by: idOut.nullable(),
  reviewed_at: timestamp.nullable(),
  supersedes_id: idOut.nullable(),
  tax_id_override_reason: z.string().nullable(),
  tax_id_confirmed_by: idOut.nullable(),
};

/** A receipt with its lines, scans and review history. */
export const receipt = z.object({
  ...receiptFields,
  superseded_by: idOut.nullable(),
  superseded_by_status: receiptStatus.nullable(),
  submitted_by_name: z.string().nullable(),
  reviewed_by_name: z.string().nullable(),
  tax_id_confirmed_by_name: z.string().nullable(),
  lines: z.array(
    z.object({
      line_no: z.number().int(),
      product: z.string(),
      category: z.enum(categories),
      licences: z.number().int(),
      amount: moneyOut,
      licence_kind: z.enum(licenceKinds),
    }),
  ),
  attachments: z.array(attachmentFile),
  history: z.array(
    z.object({
      from: receiptStatus.nullable(),
      to: receiptStatus,
      reason: z.string().nullable(),
      actor_id: idOut,
      actor_name: z.string().nullable(),
      at: timestamp,
    }),
  ),
  /** Set when a verification went through with something the accountant should know. */
  warning: z.string().optional(),
});
export const receiptPage = page(z.object(receiptFields));
export const receiptWithWarnings = receipt.extend({
  warnings: z.array(z.object({ code: z.string(), message: z.string(), category: z.enum(categories).optional() })),
});

export const receiptImport = z.object({ created: z.number().int(), receipt_ids: z.array(idOut) });
