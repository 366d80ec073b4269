/**
 * A PostgreSQL array literal for one bound parameter. Bulk inserts pass a few arrays to UNNEST
 * instead of thousands of parameters, which knex and PostgreSQL both parse far faster.
 */
export function pgArray(values: ReadonlyArray<string | number | boolean | null>): string {
  const items = values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`));
  return `{${items.join(',')}}`;
}
