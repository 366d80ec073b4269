import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amountInWords } from '../../reports/amount-in-words.ts';

const table: Array<[string, string]> = [
  ['0.00', '零元整'],
  ['0.01', '壹分'],
  ['0.10', '壹角'],
  ['0.55', '伍角伍分'],
  ['1.00', '壹元整'],
  ['1.01', '壹元零壹分'],
  ['1.10', '壹元壹角'],
  ['10.00', '壹拾元整'],
  ['10.50', '壹拾元零伍角'],
  ['11.00', '壹拾壹元整'],
  ['100.00', '壹佰元整'],
  ['101.00', '壹佰零壹元整'],
  ['110.00', '壹佰壹拾元整'],
  ['1000.00', '壹仟元整'],
  ['1001.00', '壹仟零壹元整'],
  ['1010.00', '壹仟零壹拾元整'],
  ['1409.50', '壹仟肆佰零玖元伍角'],
  ['1680.32', '壹仟陆佰捌拾元零叁角贰分'],
  ['6007.14', '陆仟零柒元壹角肆分'],
  ['10000.00', '壹万元整'],
  ['10001.00', '壹万零壹元整'],
  ['16409.02', '壹万陆仟肆佰零玖元零贰分'],
  ['100000.10', '壹拾万元零壹角'],
  ['100010.00', '壹拾万零壹拾元整'],
  ['124500.00', '壹拾贰万肆仟伍佰元整'],
  ['1000010.00', '壹佰万零壹拾元整'],
  ['10000001.00', '壹仟万零壹元整'],
  ['12450000.00', '壹仟贰佰肆拾伍万元整'],
  ['100000000.00', '壹亿元整'],
  ['100000001.00', '壹亿零壹元整'],
  ['100010000.00', '壹亿零壹万元整'],
  ['1200004500.00', '壹拾贰亿零肆仟伍佰元整'],
  ['1000000000000.00', '壹万亿元整'],
  ['1000100000000.00', '壹万零壹亿元整'],
  ['9999999999999.99', '玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分'],
];

describe('amounts in words (大写)', () => {
  it.each(table)('%s → 人民币%s', (amount, words) => {
    expect(amountInWords(amount)).toBe(`人民币${words}`);
  });

  it('refuses what is not an amount with two decimals', () => {
    for (const bad of ['1', '1.5', '-1.00', '10000000000000000.00', '1e3']) expect(() => amountInWords(bad)).toThrow();
  });
});

const digit = Object.fromEntries([...'零壹贰叁肆伍陆柒捌玖'].map((c, i) => [c, i]));
const place: Record<string, number> = { 拾: 10, 佰: 100, 仟: 1000 };

/** Reads words back into fen, independently of how they were written. */
function parseWords(text: string): bigint {
  let s = text.replace(/^人民币/, '').replace(/整$/, '');
  let fen = 0n;
  const tail = /([零壹贰叁肆伍陆柒捌玖])分$/.exec(s);
  if (tail) {
    fen += BigInt(digit[tail[1]!]!);
    s = s.slice(0, -2);
  }
  const jiao = /([零壹贰叁肆伍陆柒捌玖])角$/.exec(s);
  if (jiao) {
    fen += BigInt(digit[jiao[1]!]!) * 10n;
    s = s.slice(0, -2);
  }
  s = s.replace(/零$/, '').replace(/元$/, '');
  const section = (t: string) => {
    let n = 0n;
    let pending = 0n;
    for (const c of t) {
      if (c in digit) pending = BigInt(digit[c]!);
      else if (c in place) {
        n += pending * BigInt(place[c]!);
        pending = 0n;
      }
    }
    return n + pending;
  };
  const [aboveYi, belowYi] = s.includes('亿') ? [s.slice(0, s.lastIndexOf('亿')), s.slice(s.lastIndexOf('亿') + 1)] : ['', s];
  const splitWan = (t: string): bigint =>
    t.includes('万') ? section(t.slice(0, t.indexOf('万'))) * 10000n + section(t.slice(t.indexOf('万') + 1)) : section(t);
  const yuan = splitWan(aboveYi) * 100000000n + splitWan(belowYi);
  return yuan * 100n + fen;
}

describe('amounts in words, read back', () => {
  it('the table reads back to its amounts', () => {
    for (const [amount, words] of table) expect(parseWords(words)).toBe(BigInt(amount.replace('.', '')));
  });

  it('every amount from 0.00 to 9999999999999999.99 reads back to itself', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 999999999999999999n }), (fen) => {
        const amount = `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`;
        const words = amountInWords(amount);
        expect(parseWords(words)).toBe(fen);
        expect(words.endsWith('整')).toBe(fen % 100n === 0n);
        if (fen > 0n) expect(words).not.toMatch(/零零|零[元万亿]|^人民币零/);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads back amounts full of zeros', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('0', '0', '0', '1', '5', '9'), { minLength: 1, maxLength: 16 }),
        fc.constantFrom('00', '05', '50', '55'),
        (digits, decimals) => {
          const amount = `${BigInt(digits.join(''))}.${decimals}`;
          expect(parseWords(amountInWords(amount))).toBe(BigInt(amount.replace('.', '')));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('amounts past 10^13 (totals of several postings)', () => {
  it.each([
    ['19999999999999.98', '人民币壹拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角捌分'],
    ['1000000000000000.00', '人民币壹仟万亿元整'],
  ])('%s → %s', (amount, words) => {
    expect(amountInWords(amount)).toBe(words);
  });
});
