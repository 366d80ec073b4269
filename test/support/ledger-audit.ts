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
  for (const fundId of await db('funds').pluck('id')) {
    const report = await verifyLedger(db, String(fundId), join(dataDirFor((db.client.config as { connection: { connectionString: string } }).connection.connectionString), 'witness.jsonl'));
    expect(report, `fund ${fundId}`).toMatchObject({ ok: true, first_bad_seq: null, problems: [] });
  }
}
