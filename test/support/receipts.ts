import { randomInt } from 'node:crypto';
import { usccCheckCharacter } from '../../server/receipts/tax-id.ts';

/** A seller code whose GB 32100 check character is computed, not copied. */
export function sellerTaxId(first17 = '91650100MA78U4NX2'): string {
  return first17 + usccCheckCharacter(first17)!;
}

/** The same code with a wrong check character. */
export function badSellerTaxId(first17 = '91650100MA78U4NX2'): string {
  const right = usccCheckCharacter(first17)!;
  return first17 + (right === '0' ? '1' : '0');
}

/** A unique 8-digit invoice number, so tests sharing a database never collide. */
export const invoiceNumber = () => String(randomInt(10_000_000, 99_999_999));

export function receiptBody(fundId: string, overrides: Record<string, unknown> = {}) {
  return {
    fund_id: fundId,
    invoice_kind: 'vat_special',
    invoice_code: String(randomInt(1_000_000_000, 9_999_999_999)),
    invoice_number: invoiceNumber(),
    issue_date: '2011-08-15',
    seller_name: '新疆某某软件有限公司',
    seller_tax_id: sellerTaxId(),
    lines: [
      { product: 'Windows 7 专业版', category: 'os', licences: 20, amount: '16000.00' },
      { product: 'Office 2010 标准版', category: 'office', licences: 20, amount: '409.02' },
    ],
    total: '16409.02',
    ...overrides,
  };
}
