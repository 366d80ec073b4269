import { Decimal } from 'decimal.js';
import { zero } from '../ledger/money.ts';
import type { Category } from '../receipts/receipt-rules.ts';

/*
 * The allocation rule of DESIGN.md "Allocation" (以奖代补), as a pure function: no database, no clock.
 *   entitlement(d) = min(ceiling, Σ over d's verified lines of min(amount × rate, licences × cap)), to the fen
 *   due(d)         = entitlement(d) − already allocated to d   (negative: claw back what is unpaid)
 *   if Σ positive due exceeds what the fund can allocate, every positive due is scaled by one factor,
 *   cut to the fen, and the remaining fen go by largest remainder (ties by department code).
 */

export const categoryList: Category[] = ['os', 'office', 'antivirus', 'other'];

export interface Policy {
  id: string;
  version: number;
  rates: Record<Category, Decimal>;
  caps: Record<Category, Decimal | null>;
  departmentCeiling: Decimal | null;
  requireCompleted: boolean;
}

export interface ReceiptLine {
  category: Category;
  licences: number;
  amount: Decimal;
}

/** A unit's verified lines of one category, summed under a policy: all the rule needs of them. */
export interface CategoryTotal {
  category: Category;
  /** Σ amount. */
  base: Decimal;
  /** Σ licences. */
  licences: number;
  /** Σ over the lines of min(amount × rate, licences × cap), exact (not rounded). */
  reward: Decimal;
  /** How many lines the cap made smaller than amount × rate. */
  cappedLines: number;
}

export interface DepartmentInput {
  id: string;
  code: string;
  status: string;
  acceptedOn: string | null;
  lines: ReceiptLine[];
  /**
   * The lines already summed by category under the run's policy, in the order each category first
   * appears among them (the database sums a million lines, server/allocation/run-inputs.ts); when
   * given, `lines` is not read.
   */
  totals?: CategoryTotal[];
  /** Net allocated so far, by kind (allocations net of clawbacks and reversals), not the balance of 5001.d. */
  allocated: Decimal;
  /** Unpaid reward: allocated − disbursed by kind, never beyond the 2307.d balance; only this much can be clawed back. */
  payable: Decimal;
  /** The verified receipts the lines come from, named in the explanation. */
  receipts?: string[];
  /** Paid so far (7101.d), for explaining a clawback. */
  paid?: Decimal;
  /** Receipts of this unit rejected after verification: why an entitlement can fall. */
  rejected?: Array<{ id: string; invoice: string; reason: string | null }>;
}

/** Why a unit with receipts or an earlier allocation gets nothing from a run (DESIGN.md "Corrections"). */
export type ExclusionReason = 'not_completed' | 'not_accepted' | 'no_verified_receipts' | 'ceiling_reached' | 'nothing_new';

export interface Exclusion {
  department_id: string;
  department_code: string;
  reason: ExclusionReason;
}

export interface ClawbackBasis {
  rejected_receipts: Array<{ id: string; invoice: string; reason: string | null }>;
  previously_allocated: string;
  paid: string;
  payable: string;
  entitlement: string;
  clawback: string;
  to_recover: string;
  text: string;
}

export interface CategoryExplanation {
  base: string;
  licences: number;
  rate: string;
  cap_per_licence: string | null;
  reward: string;
  capped_lines: number;
}

export interface AllocationLine {
  department_id: string;
  department_code: string;
  entitlement: string;
  previously_allocated: string;
  due: string;
  amount: string;
  clawback: string;
  to_recover: string;
  explanation: {
    qualifies: boolean;
    reason: string | null;
    categories: Partial<Record<Category, CategoryExplanation>>;
    subtotal: string;
    ceiling: string | null;
    ceiling_applied: boolean;
    factor: string;
    remainder_fen: number;
    receipts: string[];
    clawback_basis?: ClawbackBasis;
  };
}

export interface AllocationResult {
  available: string;
  total: string;
  clawed_back: string;
  factor: string;
  lines: AllocationLine[];
  excluded: Exclusion[];
}

/** The one rounding of an entitlement: half up to the fen. */
function entitlementToFen(exact: Decimal): Decimal {
  return exact.toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
}

export function qualifies(
  d: Pick<DepartmentInput, 'status' | 'acceptedOn'>,
  policy: Policy,
  asOf: string,
): { ok: boolean; reason: string | null; code: 'not_completed' | 'not_accepted' | null } {
  if (!policy.requireCompleted) return { ok: true, reason: null, code: null };
  if (d.status !== 'completed') return { ok: false, reason: '尚未完成正版化', code: 'not_completed' };
  if (!d.acceptedOn || d.acceptedOn > asOf) return { ok: false, reason: `尚未验收（或验收晚于分配日 ${asOf}）`, code: 'not_accepted' };
  return { ok: true, reason: null, code: null };
}

/** A clawback in words: which receipts fell, what was allocated, paid and is still owed back. */
function clawbackBasis(d: DepartmentInput, entitlement: Decimal, clawback: Decimal, toRecover: Decimal, why: string | null): ClawbackBasis {
  const rejected = d.rejected ?? [];
  const paid = d.paid ?? zero;
  const cause = rejected.length
    ? `发票 ${rejected.map((r) => `${r.invoice}${r.reason ? `（退回理由：${r.reason}）` : ''}`).join('、')} 审核通过后被退回`
    : why
      ? `该单位${why}`
      : '核定奖励减少';
  const text =
    `${cause}，核定奖励降为 ${entitlement.toFixed(2)} 元；此前已分配 ${d.allocated.toFixed(2)} 元，已拨付 ${paid.toFixed(2)} 元，` +
    `本次收回未拨付的 ${clawback.toFixed(2)} 元${toRecover.gt(0) ? `，另有已拨付的 ${toRecover.toFixed(2)} 元须由单位退回` : ''}。`;
  return {
    rejected_receipts: rejected,
    previously_allocated: d.allocated.toFixed(2),
    paid: paid.toFixed(2),
    payable: d.payable.toFixed(2),
    entitlement: entitlement.toFixed(2),
    clawback: clawback.toFixed(2),
    to_recover: toRecover.toFixed(2),
    text,
  };
}

/** The rule's per-line step, summed by category: each line's reward is min(amount × rate, licences × cap). */
export function categoryTotalsOf(lines: ReceiptLine[], policy: Policy): CategoryTotal[] {
  const totals = new Map<Category, CategoryTotal>();
  for (const line of lines) {
    const rate = policy.rates[line.category];
    const cap = policy.caps[line.category];
    const byRate = line.amount.times(rate);
    const byCap = cap === null ? null : cap.times(line.licences);
    const reward = byCap !== null && byCap.lt(byRate) ? byCap : byRate;
    let t = totals.get(line.category);
    if (!t) totals.set(line.category, (t = { category: line.category, base: zero, licences: 0, reward: zero, cappedLines: 0 }));
    t.base = t.base.plus(line.amount);
    t.licences += line.licences;
    t.reward = t.reward.plus(reward);
    if (reward !== byRate) t.cappedLines++;
  }
  return [...totals.values()];
}

/** Whether a unit has verified receipt lines at all. */
function hasLines(d: DepartmentInput): boolean {
  return (d.totals ?? d.lines).length > 0;
}

export function entitlementOf(d: DepartmentInput, policy: Policy, asOf: string) {
  const q = qualifies(d, policy, asOf);
  const categories: Partial<Record<Category, CategoryExplanation & { exact: Decimal }>> = {};
  for (const t of d.totals ?? categoryTotalsOf(d.lines, policy)) {
    categories[t.category] = {
      base: t.base.toFixed(2),
      licences: t.licences,
      rate: policy.rates[t.category].toFixed(4),
      cap_per_licence: policy.caps[t.category]?.toFixed(2) ?? null,
      reward: '0',
      capped_lines: t.cappedLines,
      exact: t.reward,
    };
  }
  const subtotal = Object.values(categories).reduce((s, c) => s.plus(c!.exact), zero);
  const ceiling = policy.departmentCeiling;
  const ceilingApplied = ceiling !== null && subtotal.gt(ceiling);
  const exact = q.ok ? (ceilingApplied ? ceiling! : subtotal) : zero;
  const explained = Object.fromEntries(
    Object.entries(categories).map(([k, c]) => {
      const { exact: e, ...rest } = c!;
      return [k, { ...rest, reward: e.toString() }];
    }),
  ) as Partial<Record<Category, CategoryExplanation>>;
  return { entitlement: entitlementToFen(exact), qualifies: q, categories: explained, subtotal: subtotal.toString(), ceilingApplied };
}

/**
 * Scales positive dues to fit `available`: each cut to the fen, the remaining fen to the largest
 * remainders, ties by department code. Exact integer arithmetic in fen, so the result sums to
 * exactly min(available, Σ due) and no unit gets more than its due.
 */
export function apportion(dues: Array<{ code: string; due: Decimal }>, available: Decimal): { amounts: Decimal[]; factor: Decimal; extraFen: number[] } {
  const toFen = (d: Decimal) => BigInt(d.times(100).toFixed(0));
  const dueFen = dues.map((d) => toFen(d.due));
  const sumFen = dueFen.reduce((s, x) => s + x, 0n);
  const availableFen = toFen(available);
  if (sumFen <= availableFen) return { amounts: dues.map((d) => d.due), factor: new Decimal(1), extraFen: dues.map(() => 0) };
  const cut = dueFen.map((f) => (f * availableFen) / sumFen);
  const remainder = dueFen.map((f) => (f * availableFen) % sumFen);
  let leftoverFen = availableFen - cut.reduce((s, x) => s + x, 0n);
  const order = dues
    .map((d, i) => ({ i, code: d.code }))
    .sort((a, b) => (remainder[b.i]! > remainder[a.i]! ? 1 : remainder[b.i]! < remainder[a.i]! ? -1 : a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const extraFen = dues.map(() => 0);
  for (const { i } of order) {
    if (leftoverFen <= 0n) break;
    cut[i]! += 1n;
    extraFen[i] = 1;
    leftoverFen -= 1n;
  }
  return { amounts: cut.map((c) => new Decimal(c.toString()).div(100)), factor: available.div(sumFen.toString()).times(100), extraFen };
}

/** One run: entitlements, dues, clawbacks of unpaid reward, and scaled allocations. */
export function computeRun(departments: DepartmentInput[], policy: Policy, fundAvailable: Decimal, asOf: string): AllocationResult {
  const sorted = [...departments].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const rows = sorted.map((d) => {
    const e = entitlementOf(d, policy, asOf);
    const due = e.entitlement.minus(d.allocated);
    const clawback = due.isNegative() ? Decimal.min(due.negated(), d.payable) : zero;
    const toRecover = due.isNegative() ? due.negated().minus(clawback) : zero;
    return { d, e, due, clawback, toRecover };
  });
  const clawedBack = rows.reduce((s, r) => s.plus(r.clawback), zero);
  // What the run may allocate: what the fund has left, plus what this run claws back.
  const available = fundAvailable.plus(clawedBack);
  const positive = rows.filter((r) => r.due.gt(zero));
  const { amounts, factor, extraFen } = apportion(
    positive.map((r) => ({ code: r.d.code, due: r.due })),
    available,
  );
  const amountOf = new Map(positive.map((r, i) => [r.d.id, { amount: amounts[i]!, extra: extraFen[i]! }]));
  const lines: AllocationLine[] = rows
    .filter((r) => !r.due.isZero() || !r.e.entitlement.isZero())
    .map((r) => {
      const a = amountOf.get(r.d.id);
      return {
        department_id: r.d.id,
        department_code: r.d.code,
        entitlement: r.e.entitlement.toFixed(2),
        previously_allocated: r.d.allocated.toFixed(2),
        due: r.due.toFixed(2),
        amount: (a?.amount ?? zero).toFixed(2),
        clawback: r.clawback.toFixed(2),
        to_recover: r.toRecover.toFixed(2),
        explanation: {
          qualifies: r.e.qualifies.ok,
          reason: r.e.qualifies.reason,
          categories: r.e.categories,
          subtotal: r.e.subtotal,
          ceiling: policy.departmentCeiling?.toFixed(2) ?? null,
          ceiling_applied: r.e.ceilingApplied,
          factor: a ? factor.toString() : '1',
          remainder_fen: a?.extra ?? 0,
          receipts: r.d.receipts ?? [],
          ...(r.due.isNegative() ? { clawback_basis: clawbackBasis(r.d, r.e.entitlement, r.clawback, r.toRecover, r.e.qualifies.reason) } : {}),
        },
      };
    });
  // Units with receipts or an earlier allocation that this run gives nothing, and why.
  const excluded: Exclusion[] = rows
    .filter((r) => r.due.isZero() || (!r.e.qualifies.ok && !r.due.isNegative()))
    .map((r) => ({
      department_id: r.d.id,
      department_code: r.d.code,
      reason: r.e.qualifies.code ?? (!hasLines(r.d) ? 'no_verified_receipts' : r.e.ceilingApplied ? 'ceiling_reached' : 'nothing_new'),
    }));
  const total = amounts.reduce((s, x) => s.plus(x), zero);
  return { available: available.toFixed(2), total: total.toFixed(2), clawed_back: clawedBack.toFixed(2), factor: factor.toString(), lines, excluded };
}
