export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * Lists fetch one row more than asked: if it is there, there is a next page, and its cursor is
 * the key of the last item shown.
 */
export function pageOf<T>(rows: T[], limit: number, keyOf: (item: T) => string | number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, next_cursor: rows.length > limit ? String(keyOf(items[items.length - 1]!)) : null };
}
