import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportion, computeRun, type DepartmentInput, type Policy } from '../../server/allocation/allocation-rules.ts';

const d = (s: string | number) => new Decimal(s);
const policy = (overrides: Partial<Policy> = {}): Policy => ({
  id: '1',
  version: 1,
  rates: { os: d('0.5'), office: d('0.5'), antivirus: d('0.5'), other: d('0.5') },
  caps: { os: null, office: d('600'), antivirus: d('100'), other: null },
  departmentCeiling: null,
  requireCompleted: true,
  ...overrides,
});
const unit = (
  code: string,
  lines: Array<[DepartmentInput['lines'][number]['category'], number, string]>,
  extra: Partial<DepartmentInput> = {},
): DepartmentInput => ({
  id: code,
  code,
  status: 'completed',
  acceptedOn: '2011-09-01',
  lines: lines.map(([category, licences, amount]) => ({ category, licences, amount: d(amount) })),
  allocated: d(0),
  payable: d(0),
  ...extra,
});
const run = (units: DepartmentInput[], p = policy(), available = '1000000.00') => computeRun(units, p, d(available), '2011-09-30');
const line = (r: ReturnType<typeof run>, code: string) => r.lines.find((l) => l.department_code === code)!;

describe('entitlement', () => {
  it('is half the price, capped per licence (office ≤ 600.00, antivirus ≤ 100.00)', () => {
    const r = run([
      unit('A', [
        ['os', 10, '8200.00'],
        ['office', 10, '14095.00'],
        ['antivirus', 10, '980.00'],
      ]),
    ]);
    // os 4100.00; office min(7047.50, 6000.00) = 6000.00; antivirus min(490.00, 1000.00) = 490.00
    expect(line(r, 'A').entitlement).toBe('10590.00');
    expect(line(r, 'A').explanation.categories.office).toMatchObject({
      base: '14095.00',
      licences: 10,
      rate: '0.5000',
      cap_per_licence: '600.00',
      capped_lines: 1,
    });
  });

  it('applies the cap line by line, not to the category total', () => {
    const r = run([
      unit('A', [
        ['office', 1, '2000.00'],
        ['office', 1, '400.00'],
      ]),
    ]);
    // min(1000, 600) + min(200, 600) = 800
    expect(line(r, 'A').entitlement).toBe('800.00');
  });

  it('respects the ceiling per department', () => {
    const r = run([unit('A', [['os', 100, '100000.00']])], policy({ departmentCeiling: d('30000.00') }));
    expect(line(r, 'A')).toMatchObject({ entitlement: '30000.00', explanation: { ceiling_applied: true, ceiling: '30000.00' } });
  });

  it('gives nothing for a category at rate 0', () => {
    const r = run(
      [
        unit('A', [
          ['other', 5, '999.99'],
          ['os', 1, '100.00'],
        ]),
      ],
      policy({ rates: { os: d('0.5'), office: d('0.5'), antivirus: d('0.5'), other: d(0) } }),
    );
    expect(line(r, 'A').entitlement).toBe('50.00');
  });

  it('rounds an entitlement half up to the fen once, after summing', () => {
    const r = run([
      unit('A', [
        ['os', 1, '0.01'],
        ['os', 1, '0.01'],
        ['os', 1, '0.01'],
      ]),
    ]);
    // 3 × 0.005 = 0.015 → 0.02 (summing first; rounding each line would give 0.03)
    expect(line(r, 'A').entitlement).toBe('0.02');
  });

  it.each([
    ['not completed', { status: 'procuring' }, '尚未完成正版化', 'not_completed'],
    ['completed but not accepted', { acceptedOn: null }, expect.stringContaining('尚未验收'), 'not_accepted'],
    ['accepted after the run date', { acceptedOn: '2011-10-01' }, expect.stringContaining('尚未验收'), 'not_accepted'],
  ])('is zero for a unit %s when the policy requires completion, and says so in excluded', (_name, extra, reason, code) => {
    const r = run([unit('A', [['os', 1, '100.00']], extra as Partial<DepartmentInput>)]);
    expect(r.lines).toEqual([]);
    expect(r.excluded).toEqual([{ department_id: expect.any(String), department_code: 'A', reason: code }]);
    const withAllocation = run([unit('A', [['os', 1, '100.00']], { ...(extra as Partial<DepartmentInput>), allocated: d('50.00'), payable: d('50.00') })]);
    expect(line(withAllocation, 'A')).toMatchObject({ entitlement: '0.00', due: '-50.00', clawback: '50.00', explanation: { qualifies: false, reason } });
  });

  it('says why a qualifying unit gets nothing: its ceiling was reached, or nothing is new', () => {
    const capped = run([unit('A', [['os', 1, '1000.00']], { allocated: d('100.00') })], policy({ departmentCeiling: d('100.00') }));
    expect(capped.excluded).toEqual([{ department_id: expect.any(String), department_code: 'A', reason: 'ceiling_reached' }]);
    const same = run([unit('A', [['os', 1, '100.00']], { allocated: d('50.00') })]);
    expect(same.excluded).toEqual([{ department_id: expect.any(String), department_code: 'A', reason: 'nothing_new' }]);
    expect(run([unit('A', [['os', 1, '100.00']])]).excluded).toEqual([]);
  });

  it('counts a unit not completed when the policy does not require completion', () => {
    expect(line(run([unit('A', [['os', 1, '100.00']], { status: 'procuring', acceptedOn: null })], policy({ requireCompleted: false })), 'A').amount).toBe(
      '50.00',
    );
  });

  it('leaves units with no receipts and nothing allocated out of the run', () => {
    expect(run([unit('A', [])]).lines).toEqual([]);
  });
});

describe('a run', () => {
  it('allocates only what is newly due', () => {
    const r = run([unit('A', [['os', 10, '1000.00']], { allocated: d('300.00'), payable: d('300.00') })]);
    expect(line(r, 'A')).toMatchObject({ entitlement: '500.00', previously_allocated: '300.00', due: '200.00', amount: '200.00' });
  });

  it('claws back unpaid reward and shows what was already paid beyond the entitlement as to recover', () => {
    const r = run([unit('A', [['os', 1, '100.00']], { allocated: d('500.00'), payable: d('120.00') })]);
    expect(line(r, 'A')).toMatchObject({ entitlement: '50.00', due: '-450.00', amount: '0.00', clawback: '120.00', to_recover: '330.00' });
    expect(r.clawed_back).toBe('120.00');
  });

  it('scales every positive due by one factor, the remaining fen by largest remainder, ties by code', () => {
    const r = run([unit('B', [['os', 1, '0.02']]), unit('A', [['os', 1, '0.02']]), unit('C', [['os', 1, '0.02']])], policy(), '0.02');
    // each due 0.01; 0.02 for three: each 0.00666…, equal remainders, so A and B get the fen
    expect(r.lines.map((l) => `${l.department_code} ${l.amount}`)).toEqual(['A 0.01', 'B 0.01', 'C 0.00']);
    expect(r.total).toBe('0.02');
  });

  it('uses what clawbacks free up for the others', () => {
    const r = run([unit('A', [], { allocated: d('100.00'), payable: d('100.00') }), unit('B', [['os', 1, '400.00']])], policy(), '50.00');
    expect(r.available).toBe('150.00');
    expect(line(r, 'B').amount).toBe('150.00');
  });
});

const category = fc.constantFrom('os' as const, 'office' as const, 'antivirus' as const, 'other' as const);
const cents = (max: number) => fc.integer({ min: 1, max }).map((n) => new Decimal(n).div(100));
const arbUnits = fc
  .uniqueArray(
    fc.record({
      code: fc.stringMatching(/^[A-Z]{1,3}[0-9]{0,2}$/),
      status: fc.constantFrom('completed', 'procuring'),
      accepted: fc.boolean(),
      lines: fc.array(fc.record({ category, licences: fc.integer({ min: 1, max: 500 }), amount: cents(50_000_000) }), { maxLength: 6 }),
      allocated: fc.integer({ min: 0, max: 2_000_000 }).map((n) => new Decimal(n).div(100)),
      paidShare: fc.integer({ min: 0, max: 100 }),
    }),
    { selector: (u) => u.code, maxLength: 25 },
  )
  .map((us) =>
    us.map((u): DepartmentInput => ({
      id: u.code,
      code: u.code,
      status: u.status,
      acceptedOn: u.accepted ? '2011-09-01' : null,
      lines: u.lines,
      allocated: u.allocated,
      payable: u.allocated
        .times(100 - u.paidShare)
        .div(100)
        .toDecimalPlaces(2, Decimal.ROUND_DOWN),
    })),
  );
const arbPolicy = fc
  .record({
    rates: fc.record({
      os: fc.integer({ min: 0, max: 10000 }),
      office: fc.integer({ min: 0, max: 10000 }),
      antivirus: fc.integer({ min: 0, max: 10000 }),
      other: fc.integer({ min: 0, max: 10000 }),
    }),
    caps: fc.record({
      os: fc.option(cents(100_000)),
      office: fc.option(cents(100_000)),
      antivirus: fc.option(cents(100_000)),
      other: fc.option(cents(100_000)),
    }),
    ceiling: fc.option(cents(500_000_000)),
    requireCompleted: fc.boolean(),
  })
  .map((p): Policy => ({
    id: '1',
    version: 1,
    rates: {
      os: d(p.rates.os).div(10000),
      office: d(p.rates.office).div(10000),
      antivirus: d(p.rates.antivirus).div(10000),
      other: d(p.rates.other).div(10000),
    },
    caps: { os: p.caps.os ?? null, office: p.caps.office ?? null, antivirus: p.caps.antivirus ?? null, other: p.caps.other ?? null },
    departmentCeiling: p.ceiling ?? null,
    requireCompleted: p.requireCompleted,
  }));
const arbAvailable = fc.integer({ min: 0, max: 100_000_000_00 }).map((n) => new Decimal(n).div(100));

describe('properties over random receipts and policies', () => {
  it('Σ run = min(available, Σ positive due), exactly; every amount ≥ 0.00 with two decimals; none above its due', () => {
    fc.assert(
      fc.property(arbUnits, arbPolicy, arbAvailable, (units, p, available) => {
        const r = computeRun(units, p, available, '2011-09-30');
        const dues = r.lines
          .map((l) => d(l.due))
          .filter((x) => x.gt(0))
          .reduce((s, x) => s.plus(x), d(0));
        expect(r.total).toBe(Decimal.min(d(r.available), dues).toFixed(2));
        expect(r.lines.reduce((s, l) => s.plus(l.amount), d(0)).toFixed(2)).toBe(r.total);
        for (const l of r.lines) {
          expect(l.amount).toMatch(/^[0-9]+\.[0-9]{2}$/);
          expect(d(l.amount).lte(Decimal.max(d(l.due), 0))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic, whatever the order of the units', () => {
    fc.assert(
      fc.property(arbUnits, arbPolicy, arbAvailable, (units, p, available) => {
        expect(computeRun([...units].reverse(), p, available, '2011-09-30')).toEqual(computeRun(units, p, available, '2011-09-30'));
      }),
      { numRuns: 100 },
    );
  });

  it('allocates nothing new when run again after its own amounts were posted (with enough funds)', () => {
    fc.assert(
      fc.property(arbUnits, arbPolicy, (units, p) => {
        const plenty = d('1e13');
        const first = computeRun(units, p, plenty, '2011-09-30');
        const after = units.map((u) => {
          const l = first.lines.find((x) => x.department_id === u.id);
          return l ? { ...u, allocated: u.allocated.plus(l.amount).minus(l.clawback), payable: u.payable.plus(l.amount).minus(l.clawback) } : u;
        });
        const second = computeRun(after, p, plenty, '2011-09-30');
        expect(second.total).toBe('0.00');
        expect(second.clawed_back).toBe('0.00');
      }),
      { numRuns: 200 },
    );
  });

  it('apportions exactly and never above a due, in integer fen', () => {
    fc.assert(
      fc.property(fc.array(cents(1_000_000_000), { minLength: 1, maxLength: 50 }), arbAvailable, (dues, available) => {
        const items = dues.map((due, i) => ({ code: `U${String(i).padStart(3, '0')}`, due }));
        const { amounts } = apportion(items, available);
        const sum = dues.reduce((s, x) => s.plus(x), d(0));
        expect(amounts.reduce((s, a) => s.plus(a), d(0)).toFixed(2)).toBe(Decimal.min(sum, available).toFixed(2));
        amounts.forEach((a, i) => expect(a.lte(dues[i]!) && a.gte(0) && a.decimalPlaces() <= 2).toBe(true));
      }),
      { numRuns: 300 },
    );
  });
});
