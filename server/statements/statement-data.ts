import type { Knex } from 'knex';
import { fundPositions } from '../allocation/positions.ts';
import { AppError } from '../errors.ts';

/**
 * Everything a statement shows, read in one REPEATABLE READ snapshot so the figures, the lists
 * and the chain head printed on it describe the same moment of the ledger.
 */
async function inSnapshot<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return work(trx);
  });
}

async function fundOf(trx: Knex, fundId: string) {
  const fund = await trx('funds')
    .where({ id: fundId })
    .first('id', 'code', 'name', 'document_no', 'fiscal_year', 'head_seq', 'head_hash', 'appropriated', 'allocated', 'disbursed');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  return fund;
}

export async function loadDepartmentStatement(db: Knex, fundId: string, departmentId: string) {
  return inSnapshot(db, async (trx) => {
    const fund = await fundOf(trx, fundId);
    const department = await trx('departments').where({ id: departmentId }).first('id', 'code', 'name', 'status', 'accepted_on');
    if (!department) throw new AppError('NOT_FOUND', '没有这个单位');
    // One connection, so one query at a time.
    const lines = await trx('receipt_lines as l')
      .join('receipts as r', 'r.id', 'l.receipt_id')
      .where({ 'r.fund_id': fundId, 'r.department_id': departmentId, 'r.status': 'verified' })
      .orderBy([{ column: 'r.issue_date' }, { column: 'r.id' }, { column: 'l.line_no' }])
      .select(
        'r.id',
        'r.invoice_kind',
        'r.invoice_code',
        'r.invoice_number',
        'r.issue_date',
        'r.seller_name',
        'l.line_no',
        'l.product',
        'l.category',
        'l.licences',
        'l.amount',
      );
    const allocations = await trx('allocation_lines as l')
      .join('allocation_runs as r', 'r.id', 'l.run_id')
      .where({ 'r.fund_id': fundId, 'l.department_id': departmentId, 'r.status': 'approved' })
      .orderBy('r.id')
      .select('r.id as run_id', 'r.as_of', 'l.entitlement', 'l.previously_allocated', 'l.amount', 'l.clawback', 'l.to_recover', 'l.explanation');
    // Clawbacks an inspection's finding called for, with the inspection's document number.
    const findingClawbacks = await trx('finding_clawbacks as c')
      .join('findings as f', 'f.id', 'c.finding_id')
      .join('inspections as i', 'i.id', 'f.inspection_id')
      .join('journal_entries as e', 'e.id', 'c.entry_id')
      .where({ 'c.fund_id': fundId, 'c.department_id': departmentId, 'c.status': 'approved' })
      .orderBy('e.seq')
      .select('i.document_no', 'e.entry_date', 'c.amount', 'f.description');
    const payments = await trx('disbursements')
      .where({ fund_id: fundId, department_id: departmentId, status: 'approved' })
      .orderBy(['pay_date', 'id'])
      .select('kind', 'voucher_no', 'pay_date', 'amount');
    const [position] = await fundPositions(trx, fundId, departmentId);
    const people = await preparersAndApprovers(trx, fundId, departmentId);
    return {
      fund,
      department,
      people,
      lines,
      allocations,
      findingClawbacks,
      payments,
      totals: {
        allocated: position?.allocated ?? '0.00',
        paid: position?.paid ?? '0.00',
        payable: position?.payable ?? '0.00',
        to_recover: position?.to_recover ?? '0.00',
      },
      head: { seq: Number(fund.head_seq), hash: String(fund.head_hash) },
    };
  });
}

/**
 * Who prepared (制单) and who approved (审核) what a unit's statement shows: the approved allocation
 * runs that gave it a line and its approved payments and refunds, in the order they were approved.
 */
async function preparersAndApprovers(trx: Knex, fundId: string, departmentId: string | null) {
  const runs = trx('allocation_runs as r')
    .where({ 'r.fund_id': fundId, 'r.status': 'approved' })
    .modify((q) => {
      if (departmentId) q.whereExists((e) => e.select(1).from('allocation_lines as l').whereRaw('l.run_id = r.id').where('l.department_id', departmentId));
    })
    .select('r.created_by', 'r.approved_by', 'r.approved_at as at');
  const payments = trx('disbursements as p')
    .where({ 'p.fund_id': fundId, 'p.status': 'approved' })
    .modify((q) => {
      if (departmentId) q.where('p.department_id', departmentId);
    })
    .select('p.created_by', 'p.approved_by', 'p.approved_at as at');
  const rows = await trx
    .select('c.username as preparer', 'a.username as approver')
    .from(runs.unionAll(payments, true).as('x'))
    .leftJoin('users as c', 'c.id', 'x.created_by')
    .leftJoin('users as a', 'a.id', 'x.approved_by')
    .orderBy('x.at');
  const distinct = (names: Array<string | null>) => [...new Set(names.filter((n): n is string => Boolean(n)))];
  return { preparers: distinct(rows.map((r) => r.preparer)), approvers: distinct(rows.map((r) => r.approver)) };
}

export type DepartmentStatementData = Awaited<ReturnType<typeof loadDepartmentStatement>>;

export async function loadFundSummary(db: Knex, fundId: string) {
  return inSnapshot(db, async (trx) => {
    const fund = await fundOf(trx, fundId);
    const cash = await trx('accounts').where({ fund_id: fundId, code: '1011' }).first('balance');
    const positions = await fundPositions(trx, fundId);
    const departments = await trx('departments').orderBy('code').select('id', 'code', 'name', 'status');
    const byId = new Map(positions.map((p) => [p.department_id, p]));
    const people = await preparersAndApprovers(trx, fundId, null);
    return {
      fund,
      people,
      cash: String(cash.balance),
      rows: departments.map((d) => {
        const p = byId.get(String(d.id));
        return {
          code: d.code,
          name: d.name,
          status: d.status,
          allocated: p?.allocated ?? '0.00',
          paid: p?.paid ?? '0.00',
          payable: p?.payable ?? '0.00',
          to_recover: p?.to_recover ?? '0.00',
        };
      }),
      head: { seq: Number(fund.head_seq), hash: String(fund.head_hash) },
    };
  });
}

export type FundSummaryData = Awaited<ReturnType<typeof loadFundSummary>>;
