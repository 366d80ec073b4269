import { describe, expect, it } from 'vitest';
import { checkReceipt, receiptContent } from '../../server/receipts/receipt-rules.ts';
import { badSellerTaxId, sellerTaxId } from '../support/receipts.ts';

const validSellerTaxId = sellerTaxId();

const base = {
  invoice_kind: 'vat_special',
  invoice_code: '6500111130',
  invoice_number: '01234567',
  issue_date: '2011-08-15',
  seller_name: '新疆某某软件有限公司',
  seller_tax_id: validSellerTaxId,
  lines: [
    { product: 'Windows 7 专业版', category: 'os', licences: 20, amount: '16400.00' },
    { product: 'Office 2010 标准版', category: 'office', licences: 20, amount: '9.02' },
  ],
  total: '16409.02',
};

const problems = (overrides: object) => {
  const parsed = receiptContent.safeParse({ ...base, ...overrides });
  if (!parsed.success) return parsed.error.issues.map((i) => i.path.join('.'));
  return checkReceipt(parsed.data, '2011-09-20').errors.map((e) => e.field);
};

describe('receipt rules', () => {
  it('accepts a complete VAT invoice', () => {
    expect(problems({})).toEqual([]);
  });

  it.each([
    ['a 12-digit code', { invoice_code: '065001100111' }, []],
    ['a 9-digit code', { invoice_code: '650011113' }, ['invoice_code']],
    ['a 7-digit number', { invoice_number: '1234567' }, ['invoice_number']],
    ['full-width digits in the number, normalised', { invoice_number: '０１２３４５６７' }, []],
    ['a missing code on a VAT invoice', { invoice_code: undefined }, ['invoice_code']],
    ['a digital invoice with a 20-digit number', { invoice_kind: 'digital', invoice_code: undefined, invoice_number: '11650000000012345678' }, []],
    ['a digital invoice with a code', { invoice_kind: 'digital', invoice_number: '11650000000012345678' }, ['invoice_code']],
    ['a digital invoice with 8 digits', { invoice_kind: 'digital', invoice_code: undefined }, ['invoice_number']],
    ['an issue date in the future', { issue_date: '2011-09-21' }, ['issue_date']],
    ['an issue date that does not exist', { issue_date: '2011-02-29' }, ['issue_date']],
    ['a total one fen off the lines', { total: '16409.03' }, ['total']],
    ['a malformed seller tax id', { seller_tax_id: 'ABC' }, ['seller_tax_id']],
    ['a legacy 15-character tax id', { seller_tax_id: '650102228601234' }, []],
    ['no lines', { lines: [], total: '0.01' }, ['lines']],
    ['a fractional licence count', { lines: [{ product: 'x', category: 'os', licences: 1.5, amount: '1.00' }], total: '1.00' }, ['lines.0.licences']],
    ['zero licences', { lines: [{ product: 'x', category: 'os', licences: 0, amount: '1.00' }], total: '1.00' }, ['lines.0.licences']],
    ['an unknown category', { lines: [{ product: 'x', category: 'games', licences: 1, amount: '1.00' }], total: '1.00' }, ['lines.0.category']],
    ['an amount with three decimals', { lines: [{ product: 'x', category: 'os', licences: 1, amount: '1.001' }], total: '1.00' }, ['lines.0.amount']],
    ['an unknown field', { discount: '1.00' }, ['']],
  ])('%s', (_name, overrides, fields) => {
    expect(problems(overrides)).toEqual(fields);
  });

  it('flags a failing check character without refusing it outright (an accountant may override)', () => {
    const parsed = receiptContent.parse({ ...base, seller_tax_id: badSellerTaxId() });
    const { errors, checked } = checkReceipt(parsed, '2011-09-20');
    expect(errors).toEqual([]);
    expect(checked.taxIdCheckFailed).toBe(true);
  });

  it('keys an invoice by code and number, and a digital one by its number alone', () => {
    expect(checkReceipt(receiptContent.parse(base), '2011-09-20').checked.invoiceKey).toBe('6500111130:01234567');
    const digital = receiptContent.parse({ ...base, invoice_kind: 'digital', invoice_code: undefined, invoice_number: '11650000000012345678' });
    expect(checkReceipt(digital, '2011-09-20').checked.invoiceKey).toBe('digital:11650000000012345678');
  });
});
