import { Decimal } from 'decimal.js';

// Sums of many amounts times four-decimal rates need more than decimal.js's default 20 significant
// digits to stay exact: 10^13 × 10^5 lines at 6 decimals is 24 digits.
Decimal.set({ precision: 60 });

/** 10^13: amounts have at most 13 integer digits (DESIGN.md "Money"). */
export const amount_limit = new Decimal('10000000000000');

/** Formats an exact amount with two decimals; an amount with more precision is a bug, not something to round. */
export function formatAmount(amount: Decimal): string {
  if (amount.decimalPlaces() > 2) throw new Error(`amount ${amount.toString()} has more than two decimals`);
  return amount.toFixed(2);
}

export const zero = new Decimal(0);
