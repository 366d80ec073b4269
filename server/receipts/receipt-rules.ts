import { Decimal } from 'decimal.js';
import { z } from 'zod';
import type { FieldError } from '../errors.ts';
import { calendarDate, money, todayInShanghai } from '../http/schemas.ts';
import { checkSellerTaxId } from './tax-id.ts';

export const invoiceKinds = ['vat_special', 'vat_ordinary', 'digital', 'general'] as const;
export const categories = ['os', 'office', 'antivirus', 'other'] as const;
export type Category = (typeof categories)[number];
export const receiptLines_max = 1000;

export const receiptLine = z.strictObject({
  product: z.string().trim().min(1, 'must name the product').max(200),
  category: z.enum(categories, { error: `must be one of ${categories.join(', ')}` }),
  licences: z.number({ error: 'must be a whole number of licences' }).int('must be a whole number of licences').min(1, 'must be at least 1').max(10_000_000),
  amount: money,
});

/** What an invoice says; the same for a submission and for a row group of a bulk import. */
export const receiptContent = z.strictObject({
  invoice_kind: z.enum(invoiceKinds, { error: `must be one of ${invoiceKinds.join(', ')}` }),
  invoice_code: z.string().optional(),
  invoice_number: z.string(),
  issue_date: calendarDate,
  seller_name: z.string().trim().min(1, 'must not be empty').max(200),
  seller_tax_id: z.string().trim(),
  seller_tax_id_override: z.string().trim().min(1, 'must give a reason').max(500).optional(),
  lines: z.array(receiptLine).min(1, 'a receipt needs at least one line').max(receiptLines_max, `at most ${receiptLines_max} lines`),
  total: money,
});

export const receiptBody = receiptContent.extend({ fund_id: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a fund id') });

export type ReceiptInput = z.output<typeof receiptContent>;

/** Full-width digits and letters, spaces and dashes are how invoice numbers get typed; they name the same invoice. */
export function normaliseInvoiceNumber(s: string): string {
  return s.replace(/[０-９Ａ-Ｚａ-ｚ]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/[\s-]/g, '').toUpperCase();
}

export interface CheckedReceipt {
  invoiceCode: string | null;
  invoiceNumber: string;
  invoiceKey: string;
  sellerTaxId: string;
  taxIdCheckFailed: boolean;
}

/**
 * The rules of DESIGN.md "Procurement evidence" that a schema cannot say: invoice code and number by
 * kind, issue date not in the future, the seller's tax id, and a total equal to its lines.
 * Returns every problem at once, each naming its field.
 */
export function checkReceipt(r: ReceiptInput, today: string = todayInShanghai()): { errors: FieldError[]; checked: CheckedReceipt } {
  const errors: FieldError[] = [];
  const code = r.invoice_code === undefined ? null : normaliseInvoiceNumber(r.invoice_code);
  const number = normaliseInvoiceNumber(r.invoice_number);
  if (r.invoice_kind === 'digital') {
    if (code !== null && code !== '') errors.push({ field: 'invoice_code', message: 'a digital invoice (数电票) has no invoice code' });
    if (!/^[0-9]{20}$/.test(number)) errors.push({ field: 'invoice_number', message: 'a digital invoice (数电票) number has 20 digits' });
  } else {
    if (code === null || !/^([0-9]{10}|[0-9]{12})$/.test(code)) errors.push({ field: 'invoice_code', message: 'must be the 10- or 12-digit invoice code' });
    if (!/^[0-9]{8}$/.test(number)) errors.push({ field: 'invoice_number', message: 'must be the 8-digit invoice number' });
  }
  if (r.issue_date > today) errors.push({ field: 'issue_date', message: `must not be in the future (today is ${today})` });
  const taxId = normaliseInvoiceNumber(r.seller_tax_id);
  const verdict = checkSellerTaxId(taxId);
  if (verdict === 'malformed') {
    errors.push({ field: 'seller_tax_id', message: 'must be an 18-character unified social credit code or a 15-character tax registration number' });
  }
  const linesTotal = r.lines.reduce((sum, l) => sum.plus(l.amount), new Decimal(0));
  if (!linesTotal.eq(r.total)) errors.push({ field: 'total', message: `must equal the sum of the lines, ${linesTotal.toFixed(2)}` });
  r.lines.forEach((l, i) => {
    if (l.amount.isZero()) errors.push({ field: `lines.${i}.amount`, message: 'must be greater than 0.00' });
  });
  const digital = r.invoice_kind === 'digital';
  return {
    errors,
    checked: {
      invoiceCode: digital ? null : code,
      invoiceNumber: number,
      invoiceKey: `${digital ? 'digital' : code}:${number}`,
      sellerTaxId: taxId,
      taxIdCheckFailed: verdict === 'bad_check_character',
    },
  };
}
