import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.ts';
import { translateDbError, translatesCheck } from '../../server/db/translate-error.ts';
import { makeUser, openHarness, type Harness } from '../support/harness.ts';

/*
 * Every CHECK and NOT NULL of the migrated schema reaches the API only as a 4xx: the one translator
 * (server/db/translate-error.ts) knows each CHECK by name (or as a column's own rule) and every NOT NULL
 * by its column. A new constraint without a translation fails here, before it can answer 500.
 */
let h: Harness;
beforeAll(() => {
  h = openHarness();
});
afterAll(() => h.close());

describe('the error translator against the schema', () => {
  it('translates every CHECK constraint of the schema to a 4xx problem', async () => {
    const { rows } = await h.db.raw(`
      SELECT c.conname AS name, cl.relname AS "table"
        FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace n ON n.oid = c.connamespace
       WHERE c.contype = 'c' AND n.nspname = current_schema() ORDER BY 1`);
    expect(rows.length).toBeGreaterThan(100);
    const untranslated = (rows as Array<{ name: string; table: string }>).filter((r) => !translatesCheck(r.name, r.table)).map((r) => r.name);
    expect(untranslated).toEqual([]);
    for (const r of rows as Array<{ name: string; table: string }>) {
      const e = translateDbError(Object.assign(new Error('check'), { code: '23514', constraint: r.name, table: r.table }));
      expect(e, r.name).toBeInstanceOf(AppError);
      expect((e as AppError).status, r.name).toBeLessThan(500);
    }
  });

  it('translates a NOT NULL violation of every column to 422 naming the field', async () => {
    const { rows } = await h.db.raw(`
      SELECT cl.relname AS "table", a.attname AS column
        FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
       WHERE n.nspname = current_schema() AND cl.relkind = 'r' AND a.attnum > 0 AND a.attnotnull AND NOT a.attisdropped`);
    expect(rows.length).toBeGreaterThan(100);
    for (const r of rows as Array<{ table: string; column: string }>) {
      const e = translateDbError(Object.assign(new Error('not null'), { code: '23502', table: r.table, column: r.column }));
      expect(e, `${r.table}.${r.column}`).toBeInstanceOf(AppError);
      expect((e as AppError).status).toBe(422);
      expect((e as AppError).errors?.[0]?.field).toBe(r.column);
    }
  });

  it('answers a disbursement of "0" with 422 naming the amount, never 500 (disbursements_amount_check)', async () => {
    const accountant = await makeUser(h.db, 'accountant');
    const fund = await h.api
      .post('/api/v1/funds')
      .set(accountant.auth)
      .send({ code: `Z${Date.now()}`, name: '零额拨付', fiscal_year: 2011, document_no: 'X' });
    const [dept] = await h
      .db('departments')
      .insert({ code: `Z${Date.now()}`, name: '零额单位', group: 'government', status: 'completed' })
      .returning('id');
    for (const amount of ['0', '0.00', '00.0']) {
      const res = await h.api
        .post(`/api/v1/funds/${fund.body.id}/disbursements`)
        .set(accountant.auth)
        .send({ department_id: String(dept.id), amount, voucher_no: `V${amount}`, date: '2011-06-01' });
      expect(res.status, amount).toBe(422);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('amount');
    }
    // Past the schema, straight at the database: the CHECK itself answers as the field's rule.
    const direct = translateDbError(Object.assign(new Error('check'), { code: '23514', constraint: 'disbursements_amount_check', table: 'disbursements' }));
    expect((direct as AppError).status).toBe(422);
  });
});
