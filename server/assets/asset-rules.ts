import { Decimal } from 'decimal.js';

export const licenceKinds = ['oem', 'retail', 'volume', 'subscription'] as const;
export type LicenceKind = (typeof licenceKinds)[number];

/** The categories a computer needs one licence of each; `other` software is registered but not measured. */
export const measuredCategories = ['os', 'office', 'antivirus'] as const;
export type MeasuredCategory = (typeof measuredCategories)[number];

export type LicencesByCategory = Record<MeasuredCategory, number>;

export interface ComplianceRates {
  os: string | null;
  office: string | null;
  antivirus: string | null;
  overall: string | null;
}

/**
 * The one place a compliance rate is rounded: licences ÷ computers, capped at 1 (spare licences do
 * not make up for another category or another unit), four decimals half up. A unit with no
 * computers has nothing to license: fully compliant. Without a reported installed base the rate is
 * unknown (null), never guessed.
 */
export function complianceRate(licences: number, computers: number | null): string | null {
  if (computers === null) return null;
  if (computers === 0) return '1.0000';
  return Decimal.min(new Decimal(licences).div(computers), 1).toDecimalPlaces(4, Decimal.ROUND_HALF_UP).toFixed(4);
}

/** Overall = the lowest of os / office / antivirus: a computer is legal only with all three. */
export function lowest(rates: Array<string | null>): string | null {
  if (rates.some((r) => r === null)) return null;
  return rates.reduce((low, r) => (new Decimal(r!).lt(low!) ? r : low), rates[0]!) ?? null;
}

export function unitCompliance(licences: LicencesByCategory, computers: number | null): ComplianceRates {
  const os = complianceRate(licences.os, computers);
  const office = complianceRate(licences.office, computers);
  const antivirus = complianceRate(licences.antivirus, computers);
  return { os, office, antivirus, overall: lowest([os, office, antivirus]) };
}

/**
 * Compliance of many units together (the programme, a group): licensed computers ÷ computers, where
 * each unit counts at most its own computers per category. Units without an installed base are left
 * out and counted separately, so the figure never pretends to know them.
 */
export function pooledCompliance(units: Array<{ licences: LicencesByCategory; computers: number | null }>) {
  const known = units.filter((u) => u.computers !== null);
  const computers = known.reduce((s, u) => s + u.computers!, 0);
  const covered = (c: MeasuredCategory) => known.reduce((s, u) => s + Math.min(u.licences[c], u.computers!), 0);
  const rates = Object.fromEntries(measuredCategories.map((c) => [c, known.length ? complianceRate(covered(c), computers) : null])) as Record<
    MeasuredCategory,
    string | null
  >;
  return { units: units.length, reported: known.length, computers, ...rates, overall: lowest(measuredCategories.map((c) => rates[c])) };
}

export interface InventoryLine {
  asset_id: string;
  expected: number;
  counted: number;
}

/**
 * What an inventory shows: every asset in use is counted (one left out counts as none found), and
 * each line whose count differs from the register is a difference — missing when fewer, surplus when more.
 */
export function inventoryDifferences(inUse: Array<{ id: string; licences_in_use: number }>, counts: Array<{ asset_id: string; counted: number }>) {
  const countedBy = new Map(counts.map((c) => [c.asset_id, c.counted]));
  const lines: InventoryLine[] = inUse.map((a) => ({ asset_id: a.id, expected: a.licences_in_use, counted: countedBy.get(a.id) ?? 0 }));
  const differences = lines
    .filter((l) => l.counted !== l.expected)
    .map((l) => ({ ...l, kind: l.counted < l.expected ? ('missing' as const) : ('surplus' as const), difference: l.counted - l.expected }));
  return { lines, differences };
}

/** Licences a unit would hold per category after adding `adding`; those beyond its computers are warnings for the reviewer. */
export function licencesBeyondComputers(held: LicencesByCategory, adding: Partial<LicencesByCategory>, computers: number | null) {
  if (computers === null) return [];
  return measuredCategories
    .filter((c) => (adding[c] ?? 0) > 0 && held[c] + (adding[c] ?? 0) > computers)
    .map((c) => ({ category: c, licences: held[c] + (adding[c] ?? 0), computers }));
}
