import { z } from 'zod';

/*
 * The pieces every answer is made of. Amounts are strings with two decimals (never numbers), ids are
 * decimal strings (bigint in the database), days are YYYY-MM-DD in China, moments are ISO 8601 UTC.
 */
export const idOut = z.string().regex(/^[1-9][0-9]*$/);
export const moneyOut = z.string().regex(/^-?[0-9]+\.[0-9]{2}$/);
export const dateOut = z.string().regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/);
export const timestamp = z.iso.datetime({ offset: true });

/** One page of a list: `next_cursor` is null on the last page. */
export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}

/** A whole list. */
export function list<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item) });
}
