import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLedgerInvariants } from '../support/ledger-audit.ts';
import { asOwner, makeFund, makeUser, openHarness, unique, type Harness, type TestUser } from '../support/harness.ts';
import { sellerTaxId } from '../support/receipts.ts';

/*
 * A run over 300 units and a few thousand receipt lines seeded in SQL (the database sums the lines,
 * server/allocation/run-inputs.ts) against the rule of DESIGN.md "Allocation" computed here on its
 * own, line by line in integers: micro-yuan (fen × rate in ten-thousandths) for rewards, fen for
 * amounts. Every line of the run must match to the fen, through a scaled first run and a second run
 * that claws back what rejected receipts no longer support and hands it to the units still owed.
 */

let h: Harness;
let maker: TestUser;
let checker: TestUser;
beforeAll(async () => {
  h = openHarness();
  maker = await makeUser(h.db, 'accountant');
  checker = await makeUser(h.db, 'accountant');
});
afterAll(async () => {
  await assertLedgerInvariants(h.db);
  await h.close();
});

type Category = 'os' | 'office' | 'antivirus' | 'other';
const categories: Category[] = ['os', 'office', 'antivirus', 'other'];
const policy = {
  rates: { os: '0.50', office: '0.3333', antivirus: '0.45', other: '0.25' },
  licence_caps: { office: '600.00', antivirus: '99.99', other: '150.00' },
  department_ceiling: '30000.00',
  require_completed: true,
};
const asOf = '2011-09-30';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function generator(seed: number) {
  let a = seed;
  return (n: number) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Unit {
  id: string;
  code: string;
  qualifies: boolean;
}
interface Line {
  receipt: string;
  category: Category;
  licences: number;
  fen: bigint;
}

const fen = (s: string) => BigInt(new Decimal(s).times(100).toFixed(0));
const yuan = (f: bigint) => new Decimal(f.toString()).div(100).toFixed(2);
/** A rate in ten-thousandths: fen × this = micro-yuan. */
const rateOf = (c: Category) => BigInt(new Decimal(policy.rates[c]).times(10_000).toFixed(0));
const capOf = (c: Category) => (c in policy.licence_caps ? fen(policy.licence_caps[c as keyof typeof policy.licence_caps]) : null);

/** The rule, line by line: each unit's exact reward by category (micro-yuan) and its entitlement to the fen. */
function entitlements(units: Unit[], lines: Map<string, Line[]>) {
  const out = new Map<string, { fen: bigint; categories: Map<Category, { base: bigint; licences: number; micro: bigint; capped: number }> }>();
  for (const u of units) {
    const byCategory = new Map<Category, { base: bigint; licences: number; micro: bigint; capped: number }>();
    for (const l of lines.get(u.id) ?? []) {
      const byRate = l.fen * rateOf(l.category);
      const cap = capOf(l.category);
      const byCap = cap === null ? null : cap * BigInt(l.licences) * 10_000n;
      const capped = byCap !== null && byCap < byRate;
      const c = byCategory.get(l.category) ?? { base: 0n, licences: 0, micro: 0n, capped: 0 };
      byCategory.set(l.category, {
        base: c.base + l.fen,
        licences: c.licences + l.licences,
        micro: c.micro + (capped ? byCap : byRate),
        capped: c.capped + (capped ? 1 : 0),
      });
    }
    const subtotal = [...byCategory.values()].reduce((s, c) => s + c.micro, 0n);
    const ceiling = fen(policy.department_ceiling) * 10_000n;
    const exact = u.qualifies ? (subtotal > ceiling ? ceiling : subtotal) : 0n;
    out.set(u.id, { fen: (exact + 5_000n) / 10_000n, categories: byCategory });
  }
  return out;
}

/** Dues, clawbacks of unpaid reward, and positive dues scaled to what is available with the remaining fen by largest remainder (ties by code). */
function expectedRun(units: Unit[], lines: Map<string, Line[]>, allocated: Map<string, bigint>, fundAvailable: bigint) {
  const ent = entitlements(units, lines);
  const rows = [...units]
    .sort((a, b) => (a.code < b.code ? -1 : 1))
    .map((u) => {
      const due = ent.get(u.id)!.fen - (allocated.get(u.id) ?? 0n);
      // Nothing was paid out, so all that was allocated is still payable: a negative due is clawed back whole.
      return { u, entitlement: ent.get(u.id)!.fen, due, clawback: due < 0n ? -due : 0n, amount: 0n };
    });
  const available = fundAvailable + rows.reduce((s, r) => s + r.clawback, 0n);
  const positive = rows.filter((r) => r.due > 0n);
  const sum = positive.reduce((s, r) => s + r.due, 0n);
  if (sum <= available) for (const r of positive) r.amount = r.due;
  else {
    for (const r of positive) r.amount = (r.due * available) / sum;
    let left = available - positive.reduce((s, r) => s + r.amount, 0n);
    const byRemainder = [...positive].sort((a, b) => {
      const ra = (a.due * available) % sum;
      const rb = (b.due * available) % sum;
      return ra > rb ? -1 : ra < rb ? 1 : a.u.code < b.u.code ? -1 : 1;
    });
    for (const r of byRemainder) {
      if (left === 0n) break;
      r.amount += 1n;
      left -= 1n;
    }
  }
  return { rows: rows.filter((r) => r.due !== 0n || r.entitlement !== 0n), categories: ent, total: positive.reduce((s, r) => s + r.amount, 0n) };
}

function expectRunMatches(run: Record<string, unknown>, expected: ReturnType<typeof expectedRun>, allocated: Map<string, bigint>) {
  const lines = run.lines as Array<Record<string, unknown> & { explanation: { categories: Record<string, Record<string, unknown>> } }>;
  expect(lines.map((l) => l.department_code)).toEqual(expected.rows.map((r) => r.u.code));
  for (const [i, r] of expected.rows.entries()) {
    const l = lines[i]!;
    expect({
      code: l.department_code,
      entitlement: l.entitlement,
      previously_allocated: l.previously_allocated,
      due: l.due,
      amount: l.amount,
      clawback: l.clawback,
    }).toEqual({
      code: r.u.code,
      entitlement: yuan(r.entitlement),
      previously_allocated: yuan(allocated.get(r.u.id) ?? 0n),
      due: yuan(r.due),
      amount: yuan(r.amount),
      clawback: yuan(r.clawback),
    });
    const byCategory = expected.categories.get(r.u.id)!.categories;
    expect(Object.keys(l.explanation.categories).sort()).toEqual([...byCategory.keys()].sort());
    for (const [c, t] of byCategory) {
      const shown = l.explanation.categories[c]!;
      expect({ base: shown.base, licences: shown.licences, capped_lines: shown.capped_lines }).toEqual({
        base: yuan(t.base),
        licences: t.licences,
        capped_lines: t.capped,
      });
      expect(new Decimal(shown.reward as string).times(1_000_000).toFixed(0)).toBe(t.micro.toString());
    }
  }
  expect(run.total).toBe(yuan(expected.total));
}

describe('an allocation run over 300 units', () => {
  it('gives every unit, to the fen, what the rule computed line by line gives it, in a scaled run and in the clawback run after it', async () => {
    const random = generator(20111130);
    const fundId = await makeFund(h, maker, '1000000.00');
    expect((await h.api.put(`/api/v1/funds/${fundId}/policy`).set(maker.auth).send(policy)).status).toBe(201);
    const prefix = unique('S');
    const invoiceCode = String(1_000_000_000 + random(8_999_999_999));
    const units: Unit[] = [];
    const lines = new Map<string, Line[]>();
    const receipts: Array<{ id: string; unit: string }> = [];
    await asOwner(async (owner) => {
      await owner.transaction(async (trx) => {
        for (let i = 0; i < 300; i++) {
          // Most units completed and accepted; some accepted after the run's date, some not completed.
          const kind = random(20);
          const status = kind === 0 ? 'procuring' : 'completed';
          const accepted = kind === 0 ? null : kind === 1 ? '2011-10-10' : '2011-08-20';
          const [d] = await trx('departments')
            .insert({ code: `${prefix}${String(i).padStart(3, '0')}`, name: `规模测试单位${i}`, group: 'government', status, accepted_on: accepted })
            .returning(['id', 'code']);
          const unit = { id: String(d.id), code: String(d.code), qualifies: kind > 1 };
          units.push(unit);
          for (let r = 0, receiptCount = 1 + random(4); r < receiptCount; r++) {
            const receiptLines = Array.from({ length: 1 + random(6) }, () => ({
              category: categories[random(4)]!,
              licences: 1 + random(50),
              fen: BigInt(100 + random(5_000_000)),
            }));
            const total = receiptLines.reduce((s, l) => s + l.fen, 0n);
            // One receipt in ten is dated after the run's date: not part of it.
            const late = random(10) === 0;
            const number = String(10_000_000 + receipts.length + i * 10 + r).slice(-8);
            const [receipt] = await trx('receipts')
              .insert({
                fund_id: fundId,
                department_id: unit.id,
                invoice_kind: 'vat_special',
                invoice_code: invoiceCode,
                invoice_number: number,
                invoice_key: `${invoiceCode}:${number}`,
                issue_date: late ? '2011-10-15' : '2011-08-15',
                seller_name: '新疆某某软件有限公司',
                seller_tax_id: sellerTaxId(),
                total: yuan(total),
                status: 'verified',
                submitted_by: maker.id,
              })
              .returning('id');
            await trx('receipt_lines').insert(
              receiptLines.map((l, n) => ({
                receipt_id: receipt.id,
                line_no: n + 1,
                product: `软件 ${n + 1}`,
                category: l.category,
                licences: l.licences,
                amount: yuan(l.fen),
              })),
            );
            if (late) continue;
            receipts.push({ id: String(receipt.id), unit: unit.id });
            lines.set(unit.id, [...(lines.get(unit.id) ?? []), ...receiptLines.map((l) => ({ ...l, receipt: String(receipt.id) }))]);
          }
        }
      });
    });

    // The first run: the dues exceed the fund's 1,000,000.00, so every one is scaled.
    const first = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: asOf });
    expect(first.status).toBe(201);
    expect(first.body.factor).not.toBe('1');
    const none = new Map<string, bigint>();
    expectRunMatches(first.body, expectedRun(units, lines, none, fen('1000000.00')), none);
    expect(first.body.total).toBe('1000000.00');
    expect((await h.api.post(`/api/v1/allocation-runs/${first.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);

    // Receipts of ten units rejected after verification: their entitlements fall, the unpaid excess is
    // clawed back, and the second run hands what it recovers to the units still owed.
    const allocated = new Map<string, bigint>(first.body.lines.map((l: { department_id: string; amount: string }) => [l.department_id, fen(l.amount)]));
    const rejected = receipts.filter((r) => units.find((u) => u.id === r.unit)!.qualifies && allocated.get(r.unit)! > 0n).slice(0, 10);
    for (const r of rejected) {
      expect((await h.api.post(`/api/v1/receipts/${r.id}/reject`).set(maker.auth).send({ reason: '发票与采购清单不符' })).status).toBe(200);
      lines.set(
        r.unit,
        lines.get(r.unit)!.filter((l) => l.receipt !== r.id),
      );
    }
    const second = await h.api.post(`/api/v1/funds/${fundId}/allocation-runs`).set(maker.auth).send({ as_of: asOf });
    expect(second.status).toBe(201);
    const expected = expectedRun(units, lines, allocated, 0n);
    expect(expected.rows.some((r) => r.clawback > 0n)).toBe(true);
    expectRunMatches(second.body, expected, allocated);
    expect(second.body.clawed_back).toBe(yuan(expected.rows.reduce((s, r) => s + r.clawback, 0n)));
    expect((await h.api.post(`/api/v1/allocation-runs/${second.body.id}/approve`).set(checker.auth).send({})).status).toBe(200);
  });
});
