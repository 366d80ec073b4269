import { describe, expect, it } from 'vitest';
import { money } from '../../server/http/schemas.ts';
import { normaliseAmountFields, normaliseAmountInput } from '../../server/ui/form-amounts.ts';

describe('amounts typed on the pages are normalised before the strict API parser', () => {
  it.each([
    ['12,450,000.00', '12450000.00'],
    ['１２，４５０，０００．００', '12450000.00'],
    ['１４０９．５', '1409.5'],
    ['  1,409.50  ', '1409.50'],
    ['￥16,409.02', '16409.02'],
    ['¥ 600', '600'],
    ['124500.00元', '124500.00'],
    ['12 450 000.00', '12450000.00'],
    ['0.01', '0.01'],
    ['9,999,999,999,999.99', '9999999999999.99'],
  ])('%s → %s, which the API accepts', (typed, plain) => {
    expect(normaliseAmountInput(typed)).toBe(plain);
    expect(money.safeParse(plain).success).toBe(true);
  });

  it.each([
    ['1,23', 'separators that do not group thousands'],
    ['12,34.50', 'a comma used as a decimal point'],
    ['1,234.567', 'three decimals'],
    ['-100.00', 'a negative amount'],
    ['1e3', 'an exponent'],
    ['十二万', 'amounts in words'],
    ['12,,450', 'a doubled separator'],
  ])('%s (%s) is left for the API parser to refuse, never rounded or guessed', (typed) => {
    expect(money.safeParse(normaliseAmountInput(typed)).success).toBe(false);
  });

  it('normalises only the amount fields of a form, single values and repeated rows alike', () => {
    const form: Record<string, unknown> = {
      amount: '1,000.00',
      line_amount: ['１，２００．００', '300'],
      rate_office: '０．５０',
      voucher_no: '付，001',
      seller_name: '某某公司 1,000',
    };
    normaliseAmountFields(form);
    expect(form).toEqual({ amount: '1000.00', line_amount: ['1200.00', '300'], rate_office: '0.50', voucher_no: '付，001', seller_name: '某某公司 1,000' });
  });
});
