import type { Knex } from 'knex';
import { expect } from 'vitest';
import { join } from 'node:path';
import { dataDirFor } from './harness.ts';
import { verifyLedger } from '../../server/ledger/verify/verify-ledger.ts';

/**
 * The invariants of DESIGN.md "The books", checked over every fund in the database after each
 * API test file: both books balance, stored balances equal the sums of postings, guarded
 * balances are not negative, allocation is within appropriation, and every hash chain verifies.
 */
export async function assertLedgerInvariants(db: Knex): Promise<void> {
  const unbalanced = await db.raw(`
    SELECT a.fund_id, a.book,
           sum(CASE WHEN p.side = 'debit' THEN p.amount ELSE 0 END) AS debit,
           sum(CASE WHEN p.side = 'credit' THEN p.amount ELSE 0 END) AS credit
      FROM postings p JOIN accounts a ON a.id = p.account_id
     GROUP BY a.fund_id, a.book
    HAVING sum(CASE WHEN p.side = 'debit' THEN p.amount ELSE 0 END) <> sum(CASE WHEN p.side = 'credit' THEN p.amount ELSE 0 END)`);
  expect(unbalanced.rows, 'books that do not balance').toEqual([]);
  const negative = await db('accounts').where('guarded', true).where('balance', '<', 0).pluck('code');
  expect(negative, 'guarded accounts below zero').toEqual([]);
  const overAllocated = await db('funds').whereRaw('allocated > appropriated').pluck('id');
  expect(overAllocated, 'funds allocated beyond appropriation').toEqual([]);
  // Unit figures by kind (010-figures-by-unit) recomputed from the postings: same rule, same result.
  const unitDrift = await db.raw(`
    WITH k AS (
      SELECT a.fund_id, a.department_id,
             sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END) FILTER (WHERE a.kind = 'expense' AND coalesce(t.kind, e.kind) IN ('allocation', 'clawback')) AS allocated,
             sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END) FILTER (WHERE a.kind = 'budget_expenditure' AND coalesce(t.kind, e.kind) IN ('disbursement', 'refund')) AS disbursed
        FROM postings p JOIN accounts a ON a.id = p.account_id JOIN journal_entries e ON e.id = p.entry_id
        LEFT JOIN journal_entries t ON t.id = e.reverses_entry_id
       WHERE a.kind IN ('expense', 'budget_expenditure')
       GROUP BY a.fund_id, a.department_id)
    SELECT coalesce(k.fund_id, u.fund_id) AS fund_id, coalesce(k.department_id, u.department_id) AS department_id
      FROM k FULL JOIN fund_unit_figures u ON u.fund_id = k.fund_id AND u.department_id = k.department_id
     WHERE coalesce(k.allocated, 0) <> coalesce(u.allocated, 0) OR coalesce(k.disbursed, 0) <> coalesce(u.disbursed, 0)`);
  expect(unitDrift.rows, 'unit figures that differ from their postings by kind').toEqual([]);
  const fundDrift = await db.raw(`
    SELECT f.id FROM funds f LEFT JOIN (SELECT fund_id, sum(allocated) AS allocated, sum(disbursed) AS disbursed FROM fund_unit_figures GROUP BY fund_id) u ON u.fund_id = f.id
     WHERE f.allocated <> coalesce(u.allocated, 0) OR f.disbursed <> coalesce(u.disbursed, 0)`);
  expect(fundDrift.rows, 'fund figures that are not the sum of their units').toEqual([]);
  for (const fundId of await db('funds').pluck('id')) {
    const report = await verifyLedger(
      db,
      String(fundId),
      join(dataDirFor((db.client.config as { connection: { connectionString: string } }).connection.connectionString), 'witness.jsonl'),
    );
    expect(report, `fund ${fundId}`).toMatchObject({ ok: true, first_bad_seq: null, problems: [] });
  }
}
