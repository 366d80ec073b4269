import { describe, expect, it } from 'vitest';
import { money } from '../../server/http/schemas.ts';
import { formatAmount } from '../../server/ledger/money.ts';
import { Decimal } from 'decimal.js';

describe('the strict amount parser', () => {
  it.each([
    ['0.01', '0.01'],
    ['1', '1.00'],
    ['1409.5', '1409.50'],
    ['12450000.00', '12450000.00'],
    ['9999999999999.99', '9999999999999.99'],
  ])('accepts %s as %s', (input, expected) => {
    expect(formatAmount(money.parse(input))).toBe(expected);
  });

  it.each([
    ['a number', 12.5],
    ['an exponent', '1e3'],
    ['a sign', '-5.00'],
    ['a plus sign', '+5.00'],
    ['spaces', ' 5.00'],
    ['a thousands separator', '1,000.00'],
    ['full-width digits', '１２３'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['hex', '0x10'],
    ['empty', ''],
    ['null', null],
    ['three decimals (never rounded)', '1.005'],
    ['fourteen integer digits', '10000000000000'],
    ['a trailing dot', '5.'],
    ['a leading dot', '.5'],
  ])('refuses %s', (_name, input) => {
    expect(money.safeParse(input).success).toBe(false);
  });

  it('refuses to format an amount with more than two decimals instead of rounding it', () => {
    expect(() => formatAmount(new Decimal('0.005'))).toThrow(/more than two decimals/);
  });
});
