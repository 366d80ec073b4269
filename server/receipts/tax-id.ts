/*
 * Seller tax identifiers. GB 32100-2015: the unified social credit code (统一社会信用代码) is 18
 * characters from a 31-character alphabet (no I, O, S, V, Z); the 18th is a check character over
 * the first 17 with weights 3^i mod 31. Before 2015 sellers had a 15-character tax registration
 * number (6-digit region code + 9-character organisation code), which carries no such check here.
 */
const alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export type TaxIdVerdict = 'valid' | 'bad_check_character' | 'malformed';

/** The check character the first 17 characters call for, or null if one of them is outside the alphabet. */
export function usccCheckCharacter(first17: string): string | null {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const value = alphabet.indexOf(first17[i]!);
    if (value < 0) return null;
    sum += value * weights[i]!;
  }
  return alphabet[(31 - (sum % 31)) % 31]!;
}

export function checkSellerTaxId(id: string): TaxIdVerdict {
  if (/^[0-9]{6}[0-9A-Z]{9}$/.test(id)) return 'valid';
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(id)) return 'malformed';
  return usccCheckCharacter(id.slice(0, 17)) === id[17] ? 'valid' : 'bad_check_character';
}
