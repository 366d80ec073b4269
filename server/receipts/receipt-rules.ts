import { Decimal } from 'decimal.js';
import { z } from 'zod';
import type { FieldError } from '../errors.ts';
import { calendarDate, money, todayInShanghai } from '../http/schemas.ts';
import { checkSellerTaxId } from './tax-id.ts';
import { licenceKinds } from '../assets/asset-rules.ts';

export const invoiceKinds = ['vat_special', 'vat_ordinary', 'digital', 'general'] as const;
export const categories = ['os', 'office', 'antivirus', 'other'] as const;
export type Category = (typeof categories)[number];
export const receiptLines_max = 1000;

export const receiptLine = z.strictObject({
  product: z.string().trim().min(1, '请填写软件名称').max(200),
  category: z.enum(categories, { error: `须为 ${categories.join('、')} 之一` }),
  licences: z.number({ error: '套数须为整数' }).int('套数须为整数').min(1, '套数至少为 1').max(10_000_000),
  amount: money,
  // How the licence is granted, for the register; absent, a boxed retail copy (what most of the programme bought).
  licence_kind: z.enum(licenceKinds, { error: `须为 ${licenceKinds.join('、')} 之一` }).optional(),
});

/** What an invoice says; the same for a submission and for a row group of a bulk import. */
export const receiptContent = z.strictObject({
  invoice_kind: z.enum(invoiceKinds, { error: `须为 ${invoiceKinds.join('、')} 之一` }),
  invoice_code: z.string().optional(),
  invoice_number: z.string(),
  issue_date: calendarDate,
  seller_name: z.string().trim().min(1, '不能为空').max(200),
  seller_tax_id: z.string().trim(),
  seller_tax_id_override: z.string().trim().min(1, '请填写理由').max(500).optional(),
  lines: z.array(receiptLine).min(1, '至少填写一行明细').max(receiptLines_max, `明细最多 ${receiptLines_max} 行`),
  /** 金额合计: the lines' amounts, what the reward is computed on. */
  total: money,
  /** 税额: the invoice's tax, 0.00 when absent (an ordinary invoice of a small seller, or one typed before 016). */
  tax_amount: money.optional(),
  /** 价税合计 as printed on the invoice: when given, it must equal total + tax_amount. */
  total_with_tax: money.optional(),
  /** 购买方: whom the invoice was issued to (the pages fill in the unit). */
  buyer_name: z.string().trim().min(1, '不能为空').max(200, '最多 200 个字符').optional(),
});

export const receiptBody = receiptContent.extend({
  fund_id: z.string().regex(/^[1-9][0-9]{0,17}$/, '请选择资金'),
  /** The rejected or withdrawn receipt this one corrects. */
  supersedes_id: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, '须为被更正发票的编号')
    .optional(),
  /** A unit's reason for a seller code whose check character fails; an accountant confirms it at verification. */
  tax_id_override_reason: z.string().trim().min(1, '请填写理由').max(500, '最多 500 个字符').optional(),
});

/** What a submission carries besides the invoice itself. */
export interface SubmissionExtras {
  supersedes_id?: string | undefined;
  tax_id_override_reason?: string | undefined;
}

export type ReceiptInput = z.output<typeof receiptContent>;

/** Full-width digits and letters, spaces and dashes are how invoice numbers get typed; they name the same invoice. */
export function normaliseInvoiceNumber(s: string): string {
  return s
    .replace(/[０-９Ａ-Ｚａ-ｚ]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s-]/g, '')
    .toUpperCase();
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
    if (code !== null && code !== '') errors.push({ field: 'invoice_code', message: '数电票没有发票代码' });
    if (!/^[0-9]{20}$/.test(number)) errors.push({ field: 'invoice_number', message: '数电票号码为 20 位数字' });
  } else {
    if (code === null || !/^([0-9]{10}|[0-9]{12})$/.test(code)) errors.push({ field: 'invoice_code', message: '发票代码为 10 位或 12 位数字' });
    if (!/^[0-9]{8}$/.test(number)) errors.push({ field: 'invoice_number', message: '发票号码为 8 位数字' });
  }
  if (r.issue_date > today) errors.push({ field: 'issue_date', message: `不能晚于今天（${today}）` });
  const taxId = normaliseInvoiceNumber(r.seller_tax_id);
  const verdict = checkSellerTaxId(taxId);
  if (verdict === 'malformed') {
    errors.push({ field: 'seller_tax_id', message: '须为 18 位统一社会信用代码或 15 位税务登记号' });
  }
  const linesTotal = r.lines.reduce((sum, l) => sum.plus(l.amount), new Decimal(0));
  if (!linesTotal.eq(r.total)) errors.push({ field: 'total', message: `须等于明细金额之和 ${linesTotal.toFixed(2)}` });
  const withTax = r.total.plus(r.tax_amount ?? 0);
  if (r.total_with_tax !== undefined && !r.total_with_tax.eq(withTax)) {
    errors.push({ field: 'total_with_tax', message: `价税合计须等于金额与税额之和 ${withTax.toFixed(2)}` });
  }
  if (withTax.gte('10000000000000')) errors.push({ field: 'tax_amount', message: '价税合计超出可记录的范围' });
  r.lines.forEach((l, i) => {
    if (l.amount.isZero()) errors.push({ field: `lines.${i}.amount`, message: '须大于 0.00' });
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
