import { Decimal } from 'decimal.js';
import { z } from 'zod';

/** Strict money input: a string of at most 13 integer digits and 2 decimals. Never a number, never rounded. */
export const moneyString = z
  .string({ error: 'must be a string such as "1409.50"' })
  .regex(/^[0-9]{1,13}(\.[0-9]{1,2})?$/, 'must be digits with at most two decimals, such as "1409.50" (no sign, spaces, separators or exponent)');

export const money = moneyString.transform((s) => new Decimal(s));

/** A calendar date `YYYY-MM-DD` that exists. */
export const calendarDate = z
  .string({ error: 'must be a date YYYY-MM-DD' })
  .regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, 'must be a date YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'is not a real calendar date');

export const idParam = z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a numeric id');

export const limitParam = z
  .string()
  .regex(/^[0-9]{1,3}$/, 'must be an integer from 1 to 500')
  .transform(Number)
  .refine((n) => n >= 1 && n <= 500, 'must be an integer from 1 to 500')
  .optional();

export const cursorParam = z.string().regex(/^[0-9]{1,18}$/, 'is not a cursor from this list').optional();

/** Today's calendar date in China, where the books are kept. */
export function todayInShanghai(now: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(now);
}
