import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { departmentAccounts, fundAccounts, parseDepartmentAccountCode } from './chart.ts';
import { entryKindName } from './entry-kinds.ts';
import { formatAmount } from './money.ts';

const bookOf = (code: string) => fundAccounts.find((a) => a.code === code)?.book ?? departmentAccounts[parseDepartmentAccountCode(code)?.base ?? '']?.book;

/** One thing prepared by another accountant that waits for this one's approval (审核). */
export interface WaitingItem {
  type: 'entry' | 'batch' | 'run' | 'payment' | 'close' | 'clawback';
  id: string;
  fund_id: string;
  fund_code: string;
  what: string;
  date: string;
  amount: string | null;
  prepared_by: string;
  prepared_at: string;
}

const limit_per_type = 200;

/** Everything pending that `actorId` did not prepare, oldest first within each type: what an accountant's home shows. */
export async function waitingFor(db: Knex, actorId: string): Promise<WaitingItem[]> {
  const withPeople = (q: Knex.QueryBuilder, table: string) =>
    q
      .join('funds as f', 'f.id', `${table}.fund_id`)
      .join('users as u', 'u.id', `${table}.created_by`)
      .whereNot(`${table}.created_by`, actorId)
      .limit(limit_per_type);
  type Row = Record<string, unknown>;
  const [entries, batches, runs, payments, closes, clawbacks] = (await Promise.all([
    withPeople(db('pending_entries as p').where('p.status', 'pending').whereNull('p.batch_id').orderBy('p.id'), 'p').select(
      'p.id',
      'p.fund_id',
      'f.code as fund_code',
      'p.kind',
      'p.memo',
      'p.entry_date',
      'p.postings',
      'u.username',
      'p.created_at',
    ),
    withPeople(db('journal_entry_batches as b').where('b.status', 'pending').orderBy('b.id'), 'b').select(
      'b.id',
      'b.fund_id',
      'f.code as fund_code',
      'b.entry_count',
      'u.username',
      'b.created_at',
    ),
    withPeople(db('allocation_runs as r').where('r.status', 'draft').orderBy('r.id'), 'r').select(
      'r.id',
      'r.fund_id',
      'f.code as fund_code',
      'r.as_of',
      'r.total',
      'u.username',
      'r.created_at',
    ),
    withPeople(db('disbursements as d').where('d.status', 'pending').join('departments as dep', 'dep.id', 'd.department_id').orderBy('d.id'), 'd').select(
      'd.id',
      'd.fund_id',
      'f.code as fund_code',
      'd.kind',
      'd.voucher_no',
      'd.pay_date',
      'd.amount',
      'dep.name as department_name',
      'u.username',
      'd.created_at',
    ),
    withPeople(db('period_closes as c').where('c.status', 'pending').orderBy('c.id'), 'c').select(
      'c.id',
      'c.fund_id',
      'f.code as fund_code',
      'c.kind',
      'c.through',
      'c.reason',
      'u.username',
      'c.created_at',
    ),
    withPeople(db('finding_clawbacks as k').where('k.status', 'pending').join('departments as dep', 'dep.id', 'k.department_id').orderBy('k.id'), 'k').select(
      'k.id',
      'k.fund_id',
      'f.code as fund_code',
      'k.amount',
      'dep.name as department_name',
      'u.username',
      'k.created_at',
    ),
  ])) as [Row[], Row[], Row[], Row[], Row[], Row[]];
  const at = (d: unknown) => (d as Date).toISOString();
  // An entry's amount as people say it: its debits in the financial book (the budget book mirrors them).
  const debits = (postings: unknown) =>
    formatAmount(
      (postings as Array<{ account_code: string; side: string; amount: string }>)
        .filter((p) => p.side === 'debit' && bookOf(p.account_code) === 'financial')
        .reduce((s, p) => s.plus(p.amount), new Decimal(0)),
    );
  const common = (r: Row) => ({
    id: String(r.id),
    fund_id: String(r.fund_id),
    fund_code: String(r.fund_code),
    prepared_by: String(r.username),
    prepared_at: at(r.created_at),
  });
  const str = (v: unknown) => String(v);
  return [
    ...entries.map((e): WaitingItem => ({
      ...common(e),
      type: 'entry',
      what: `${entryKindName(str(e.kind))}：${str(e.memo)}`,
      date: str(e.entry_date),
      amount: debits(e.postings),
    })),
    ...batches.map((b): WaitingItem => ({
      ...common(b),
      type: 'batch',
      what: `批量手工凭证 ${str(b.entry_count)} 张`,
      date: at(b.created_at).slice(0, 10),
      amount: null,
    })),
    ...runs.map((r): WaitingItem => ({ ...common(r), type: 'run', what: `分配方案第 ${str(r.id)} 批`, date: str(r.as_of), amount: str(r.total) })),
    ...payments.map((d): WaitingItem => ({
      ...common(d),
      type: 'payment',
      what: `${d.kind === 'refund' ? '退回' : '拨付'} ${str(d.department_name)}（${str(d.voucher_no)}）`,
      date: str(d.pay_date),
      amount: str(d.amount),
    })),
    ...clawbacks.map((k): WaitingItem => ({
      ...common(k),
      type: 'clawback',
      what: `督查收回 ${str(k.department_name)} 未拨付奖励`,
      date: at(k.created_at).slice(0, 10),
      amount: str(k.amount),
    })),
    ...closes.map((c): WaitingItem => ({
      ...common(c),
      type: 'close',
      what: c.kind === 'close' ? `结账至 ${str(c.through)}` : `反结账至 ${str(c.through)}：${str(c.reason)}`,
      date: str(c.through),
      amount: null,
    })),
  ];
}
