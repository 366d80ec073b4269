import type { Knex } from 'knex';
import { recordAudit } from '../../audit/audit-log.ts';
import { AppError } from '../../errors.ts';
import type { RequestContext } from '../../http/context.ts';
import { ledgerIdentity, readWitness, witnessProblems } from '../witness.ts';
import { entriesOf } from './entry-stream.ts';
import { LedgerChecker, type CheckedAnchor, type VerifyReport } from './ledger-checker.ts';

/**
 * Verifies one fund completely, in one REPEATABLE READ snapshot (no false alarm while others post),
 * streaming its postings through a server-side cursor (constant memory at any size): the chain, each
 * posting's running balance, each stored balance, the fund figures by kind, and every anchor — in
 * the anchors table, in issued statements, and in the witness file outside the database.
 */
export async function verifyLedger(db: Knex, fundId: string, witnessFile: string): Promise<VerifyReport> {
  // The witness is read before the snapshot is taken: every head it holds was committed by then,
  // so a head written while we read cannot look like a cut tail.
  const ledger = await ledgerIdentity(db);
  const witness = await readWitness(witnessFile, fundId);
  return db.transaction(async (trx) => {
    await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const fund = await trx('funds').where({ id: fundId }).first('id', 'head_seq', 'head_hash', 'appropriated', 'allocated', 'disbursed');
    if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
    const accounts = await trx('accounts')
      .where({ fund_id: fundId })
      .select('id', 'code', 'book', 'normal_side', 'kind', 'balance', 'posting_count', 'department_id');
    const units = await trx('fund_unit_figures').where({ fund_id: fundId }).select('department_id', 'allocated', 'disbursed');
    const anchorRows = await trx('ledger_anchors').where({ fund_id: fundId }).select('seq', 'hash', 'source', 'ref');
    const stored: CheckedAnchor[] = [
      ...anchorRows.map((a) => ({ seq: Number(a.seq), hash: a.hash, source: `${a.source} ${a.ref ?? ''}`.trim() })),
      ...(await trx('statements').where({ fund_id: fundId }).select('head_seq', 'head_hash', 'statement_no')).map((s) => ({
        seq: Number(s.head_seq),
        hash: s.head_hash,
        source: `statement ${s.statement_no}`,
      })),
    ];
    const checker = new LedgerChecker(
      {
        id: String(fund.id),
        head_seq: Number(fund.head_seq),
        head_hash: fund.head_hash,
        appropriated: fund.appropriated,
        allocated: fund.allocated,
        disbursed: fund.disbursed,
      },
      accounts.map((a) => ({ ...a, id: String(a.id), department_id: a.department_id == null ? null : String(a.department_id) })),
      [...stored, ...witness.anchors],
      false,
      units.map((u) => ({ department_id: String(u.department_id), allocated: String(u.allocated), disbursed: String(u.disbursed) })),
    );
    for (const p of witnessProblems(witness, ledger, stored.length)) checker.problem(p);
    for (const line of witness.unreadable) checker.problem({ kind: 'witness_unreadable', detail: `见证文件第 ${line} 行无法读取（被改动或截断）` });
    for await (const entry of entriesOf(trx, fundId)) checker.addEntry(entry);
    return checker.finish();
  });
}

/** Verifies and records the check (who, when, the result): the auditors' work page shows each fund's last one. */
export async function verifyLedgerRecorded(db: Knex, ctx: RequestContext, fundId: string, witnessFile: string): Promise<VerifyReport> {
  const report = await verifyLedger(db, fundId, witnessFile);
  await recordAudit(db, ctx, {
    action: 'ledger.verify',
    objectType: 'fund',
    objectId: fundId,
    after: { ok: report.ok, entries: report.entries, head_hash: report.head_hash, first_bad_seq: report.first_bad_seq, problems: report.problems.length },
  });
  return report;
}
