import { Decimal } from 'decimal.js';
import { describe, expect, it } from 'vitest';
import { fundAccounts } from '../../server/ledger/chart.ts';
import { applyEntries, type AccountState, type EntryDraft } from '../../server/ledger/entry-rules.ts';

function chart(balances: Record<string, string> = {}): Map<string, AccountState> {
  const all = [
    ...fundAccounts,
    { code: '2307.D1', name: '', book: 'financial' as const, normalSide: 'credit' as const, kind: 'payable' as const, guarded: true },
    { code: '5001.D1', name: '', book: 'financial' as const, normalSide: 'debit' as const, kind: 'expense' as const, guarded: false },
  ];
  return new Map(
    all.map((a, i) => [
      a.code,
      {
        id: String(i + 1),
        code: a.code,
        name: a.name,
        book: a.book,
        normalSide: a.normalSide,
        kind: a.kind,
        guarded: a.guarded,
        balance: new Decimal(balances[a.code] ?? '0'),
      },
    ]),
  );
}

const d = (s: string) => new Decimal(s);
function entry(
  postings: Array<[string, 'debit' | 'credit', string]>,
  kind: EntryDraft['kind'] = 'appropriation',
  reversedKind?: EntryDraft['kind'],
): EntryDraft {
  return {
    date: '2011-06-01',
    kind,
    reversedKind,
    memo: 't',
    postings: postings.map(([accountCode, side, amount]) => ({ accountCode, side, amount: d(amount) })),
  };
}
const totals = (appropriated = '0', allocated = '0') => ({ appropriated: d(appropriated), allocated: d(allocated) });

describe('posting rules', () => {
  it('computes running balances in normal-side terms for an appropriation', () => {
    const [planned] = applyEntries(
      [
        entry([
          ['1011', 'debit', '100.00'],
          ['4001', 'credit', '100.00'],
          ['8001', 'debit', '100.00'],
          ['6001', 'credit', '100.00'],
        ]),
      ],
      chart(),
      totals(),
    );
    expect(planned!.map((p) => p.balanceAfter.toFixed(2))).toEqual(['100.00', '100.00', '100.00', '100.00']);
  });

  it('refuses an entry with a single posting', () => {
    expect(() => applyEntries([entry([['1011', 'debit', '1.00']])], chart(), totals())).toThrow(/至少需要两条分录/);
  });

  it('refuses an entry whose books balance only across books, not within each', () => {
    expect(() =>
      applyEntries(
        [
          entry([
            ['1011', 'debit', '5.00'],
            ['6001', 'credit', '5.00'],
          ]),
        ],
        chart(),
        totals(),
      ),
    ).toThrow(/借贷不平衡/);
  });

  it('refuses a difference of one fen', () => {
    expect(() =>
      applyEntries(
        [
          entry([
            ['1011', 'debit', '5.00'],
            ['4001', 'credit', '4.99'],
          ]),
        ],
        chart(),
        totals(),
      ),
    ).toThrow(/财务会计借贷不平衡/);
  });

  it.each(['0', '0.00', '10000000000000'])('refuses the amount %s', (amount) => {
    expect(() =>
      applyEntries(
        [
          entry([
            ['1011', 'debit', amount],
            ['4001', 'credit', amount],
          ]),
        ],
        chart(),
        totals(),
      ),
    ).toThrow(/大于 0.00 且小于 10\^13/);
  });

  it('lets cash reach exactly zero but not one fen below', () => {
    const accounts = chart({ '1011': '10.00', '4001': '10.00' });
    expect(() =>
      applyEntries(
        [
          entry(
            [
              ['4001', 'debit', '10.00'],
              ['1011', 'credit', '10.00'],
            ],
            'reversal',
            'appropriation',
          ),
        ],
        accounts,
        totals('10'),
      ),
    ).not.toThrow();
    expect(() =>
      applyEntries(
        [
          entry(
            [
              ['4001', 'debit', '0.01'],
              ['1011', 'credit', '0.01'],
            ],
            'reversal',
            'appropriation',
          ),
        ],
        accounts,
        totals('0'),
      ),
    ).toThrow(/科目 1011 余额将低于零/);
  });

  it('refuses a batch in which a later entry overdraws, even if an even later one would refill', () => {
    const drafts = [
      entry([
        ['5001.D1', 'debit', '5.00'],
        ['1011', 'credit', '5.00'],
      ]),
      entry([
        ['1011', 'debit', '5.00'],
        ['4001', 'credit', '5.00'],
      ]),
    ];
    expect(() => applyEntries(drafts, chart(), totals('100'))).toThrow(/第 1 笔凭证：科目 1011/);
  });

  it('refuses allocation beyond the appropriation by one fen', () => {
    const allocation = (amount: string) =>
      entry(
        [
          ['5001.D1', 'debit', amount],
          ['2307.D1', 'credit', amount],
        ],
        'allocation',
      );
    expect(() => applyEntries([allocation('100.01')], chart(), totals('100.00'))).toThrow(/超过财政拨款 0.01 元/);
    expect(() => applyEntries([allocation('100.00')], chart(), totals('100.00'))).not.toThrow();
  });

  it('moves the fund figures by kind only: a manual entry on 5001 leaves `allocated`, a reversal of an appropriation lowers `appropriated`', () => {
    const manual = totals('100.00');
    applyEntries(
      [
        entry(
          [
            ['5001.D1', 'debit', '500.00'],
            ['2307.D1', 'credit', '500.00'],
          ],
          'manual',
        ),
      ],
      chart(),
      manual,
    );
    expect([manual.appropriated.toFixed(2), manual.allocated.toFixed(2)]).toEqual(['100.00', '0.00']);
    const reversed = totals('100.00');
    applyEntries(
      [
        entry(
          [
            ['4001', 'debit', '40.00'],
            ['1011', 'credit', '40.00'],
            ['6001', 'debit', '40.00'],
            ['8001', 'credit', '40.00'],
          ],
          'reversal',
          'appropriation',
        ),
      ],
      chart({ '1011': '100', '8001': '100' }),
      reversed,
    );
    expect(reversed.appropriated.toFixed(2)).toBe('60.00');
  });

  it.each([
    ['a manual entry', 'manual', undefined],
    ['an allocation', 'allocation', undefined],
    ['a reversal of a manual entry', 'reversal', 'manual'],
  ] as const)('refuses %s touching 4001 or 6001', (_name, kind, reversedKind) => {
    expect(() =>
      applyEntries(
        [
          entry(
            [
              ['1011', 'debit', '1.00'],
              ['4001', 'credit', '1.00'],
            ],
            kind,
            reversedKind,
          ),
        ],
        chart(),
        totals(),
      ),
    ).toThrow(/只能由财政拨款凭证/);
    expect(() =>
      applyEntries(
        [
          entry(
            [
              ['8001', 'debit', '1.00'],
              ['6001', 'credit', '1.00'],
            ],
            kind,
            reversedKind,
          ),
        ],
        chart(),
        totals(),
      ),
    ).toThrow(/只能由财政拨款凭证/);
  });
});
