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

/** What one unit's statement shows; see loadDepartmentStatements. */
export async function loadDepartmentStatement(db: Knex, fundId: string, departmentId: string) {
  const [data] = await loadDepartmentStatements(db, fundId, [departmentId]);
  return data!;
}

/** Groups rows by their department_id (dropped from each row), keeping the rows' order. */
function byDepartment<T extends { department_id: unknown }>(rows: T[]): Map<string, Array<Omit<T, 'department_id'>>> {
  const groups = new Map<string, Array<Omit<T, 'department_id'>>>();
  for (const { department_id, ...row } of rows) {
    const key = String(department_id);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}

/**
 * The statements of several units (a bundle's chunk), in the order of `departmentIds`: one query for
 * each kind of row for all of them, not one for each unit, in one snapshot. A single statement reads
 * through here too, so a unit's statement in a bundle says exactly what its single download says.
 */
export async function loadDepartmentStatements(db: Knex, fundId: string, departmentIds: string[]) {
  return inSnapshot(db, async (trx) => {
    const fund = await fundOf(trx, fundId);
    const departments = new Map(
      (await trx('departments').whereIn('id', departmentIds).select('id', 'code', 'name', 'status', 'accepted_on')).map((d) => [String(d.id), d]),
    );
    if (departmentIds.some((id) => !departments.has(id))) throw new AppError('NOT_FOUND', '没有这个单位');
    // One connection, so one query at a time.
    const lines = byDepartment(
      await trx('receipt_lines as l')
        .join('receipts as r', 'r.id', 'l.receipt_id')
        .where({ 'r.fund_id': fundId, 'r.status': 'verified' })
        .whereIn('r.department_id', departmentIds)
        .orderBy([{ column: 'r.department_id' }, { column: 'r.issue_date' }, { column: 'r.id' }, { column: 'l.line_no' }])
        .select(
          'r.department_id',
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
        ),
    );
    const allocations = byDepartment(
      await trx('allocation_lines as l')
        .join('allocation_runs as r', 'r.id', 'l.run_id')
        .where({ 'r.fund_id': fundId, 'r.status': 'approved' })
        .whereIn('l.department_id', departmentIds)
        .orderBy([{ column: 'l.department_id' }, { column: 'r.id' }])
        .select(
          'l.department_id',
          'r.id as run_id',
          'r.as_of',
          'l.entitlement',
          'l.previously_allocated',
          'l.amount',
          'l.clawback',
          'l.to_recover',
          'l.explanation',
        ),
    );
    // Clawbacks an inspection's finding called for, with the inspection's document number.
    const findingClawbacks = byDepartment(
      await trx('finding_clawbacks as c')
        .join('findings as f', 'f.id', 'c.finding_id')
        .join('inspections as i', 'i.id', 'f.inspection_id')
        .join('journal_entries as e', 'e.id', 'c.entry_id')
        .where({ 'c.fund_id': fundId, 'c.status': 'approved' })
        .whereIn('c.department_id', departmentIds)
        .orderBy([{ column: 'c.department_id' }, { column: 'e.seq' }])
        .select('c.department_id', 'i.document_no', 'e.entry_date', 'c.amount', 'f.description'),
    );
    const payments = byDepartment(
      await trx('disbursements')
        .where({ fund_id: fundId, status: 'approved' })
        .whereIn('department_id', departmentIds)
        .orderBy(['department_id', 'pay_date', 'id'])
        .select('department_id', 'kind', 'voucher_no', 'pay_date', 'amount'),
    );
    const positions = new Map((await fundPositions(trx, fundId, departmentIds)).map((p) => [p.department_id, p]));
    const people = await preparersAndApprovers(trx, fundId, departmentIds);
    return departmentIds.map((id) => {
      const position = positions.get(id);
      return {
        fund,
        department: departments.get(id),
        people: people.get(id) ?? { preparers: [], approvers: [] },
        lines: lines.get(id) ?? [],
        allocations: allocations.get(id) ?? [],
        findingClawbacks: findingClawbacks.get(id) ?? [],
        payments: payments.get(id) ?? [],
        totals: {
          allocated: position?.allocated ?? '0.00',
          paid: position?.paid ?? '0.00',
          payable: position?.payable ?? '0.00',
          to_recover: position?.to_recover ?? '0.00',
        },
        head: { seq: Number(fund.head_seq), hash: String(fund.head_hash) },
      };
    });
  });
}

type People = { preparers: string[]; approvers: string[] };

/**
 * Who prepared (制单) and who approved (审核) what a unit's statement shows: the approved allocation
 * runs that gave it a line and its approved payments and refunds, in the order they were approved;
 * for each of `departmentIds`, or for the whole fund (key '') when null.
 */
async function preparersAndApprovers(trx: Knex, fundId: string, departmentIds: string[] | null): Promise<Map<string, People>> {
  const runs = trx('allocation_runs as r')
    .where({ 'r.fund_id': fundId, 'r.status': 'approved' })
    .modify((q) => {
      if (departmentIds) q.join('allocation_lines as l', 'l.run_id', 'r.id').whereIn('l.department_id', departmentIds).select('l.department_id');
      else q.select(trx.raw('NULL::bigint AS department_id'));
    })
    .select('r.created_by', 'r.approved_by', 'r.approved_at as at');
  const payments = trx('disbursements as p')
    .where({ 'p.fund_id': fundId, 'p.status': 'approved' })
    .modify((q) => {
      if (departmentIds) q.whereIn('p.department_id', departmentIds).select('p.department_id');
      else q.select(trx.raw('NULL::bigint AS department_id'));
    })
    .select('p.created_by', 'p.approved_by', 'p.approved_at as at');
  const rows = await trx
    .select('x.department_id', 'c.username as preparer', 'a.username as approver')
    .from(runs.unionAll(payments, true).as('x'))
    .leftJoin('users as c', 'c.id', 'x.created_by')
    .leftJoin('users as a', 'a.id', 'x.approved_by')
    .orderBy([{ column: 'x.department_id' }, { column: 'x.at' }]);
  const distinct = (names: Array<string | null>) => [...new Set(names.filter((n): n is string => Boolean(n)))];
  return new Map(
    [...byDepartment(rows)].map(([id, group]) => [
      departmentIds ? id : '',
      { preparers: distinct(group.map((r) => r.preparer)), approvers: distinct(group.map((r) => r.approver)) },
    ]),
  );
}

export type DepartmentStatementData = Awaited<ReturnType<typeof loadDepartmentStatements>>[number];

export async function loadFundSummary(db: Knex, fundId: string) {
  return inSnapshot(db, async (trx) => {
    const fund = await fundOf(trx, fundId);
    const cash = await trx('accounts').where({ fund_id: fundId, code: '1011' }).first('balance');
    const positions = await fundPositions(trx, fundId);
    const departments = await trx('departments').orderBy('code').select('id', 'code', 'name', 'status');
    const byId = new Map(positions.map((p) => [p.department_id, p]));
    const people = (await preparersAndApprovers(trx, fundId, null)).get('') ?? { preparers: [], approvers: [] };
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
