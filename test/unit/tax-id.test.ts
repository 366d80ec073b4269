import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSellerTaxId, usccCheckCharacter } from '../../server/receipts/tax-id.ts';

const alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** GB 32100's check character, computed here independently: Σ value × 3^i mod 31, then 31 − that. */
function reference(first17: string): string {
  const sum = [...first17].reduce((s, c, i) => s + alphabet.indexOf(c) * weights[i]!, 0);
  const check = 31 - (sum % 31);
  return alphabet[check === 31 ? 0 : check]!;
}

describe('unified social credit codes (GB 32100)', () => {
  it('weights are 3^i mod 31', () => {
    expect(weights).toEqual(Array.from({ length: 17 }, (_, i) => 3 ** i % 31));
  });

  it('agrees with the reference computation on random codes', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { minLength: 17, maxLength: 17 }), (chars) => {
        const first17 = chars.join('');
        expect(usccCheckCharacter(first17)).toBe(reference(first17));
        expect(checkSellerTaxId(first17 + reference(first17))).toBe('valid');
      }),
    );
  });

  it('finds a changed check character', () => {
    const first17 = '91650100MA7'.padEnd(17, '3');
    const right = reference(first17);
    const wrong = alphabet[(alphabet.indexOf(right) + 1) % 31]!;
    expect(checkSellerTaxId(first17 + wrong)).toBe('bad_check_character');
  });

  it.each([
    ['a legacy 15-character tax registration number', '650102228601234', 'valid'],
    ['letters outside the alphabet (I, O, S, V, Z)', '91650100MA7SOVZ123', 'malformed'],
    ['17 characters', '91650100MA7123456', 'malformed'],
    ['lower case', '91650100ma71234567', 'malformed'],
    ['empty', '', 'malformed'],
  ])('%s is %s', (_name, id, verdict) => {
    expect(checkSellerTaxId(id)).toBe(verdict);
  });
});
