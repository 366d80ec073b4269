import type { Knex } from 'knex';
import { getRun } from '../allocation/runs.ts';
import { AppError } from '../errors.ts';
import { entryKindName } from '../ledger/entry-kinds.ts';
import { trialBalance } from '../ledger/trial-balance.ts';
import type { Column, Table } from './tables.ts';

export const journalColumns: Column[] = [
  { header: '凭证号', key: 'seq' },
  { header: '日期', key: 'date' },
  { header: '类型', key: 'kind' },
  { header: '摘要', key: 'memo', width: 30 },
  { header: '文号', key: 'document_no' },
  { header: '科目代码', key: 'account_code' },
  { header: '科目名称', key: 'account_name', width: 28 },
  { header: '账簿', key: 'book' },
  { header: '借方金额', key: 'debit', money: true },
  { header: '贷方金额', key: 'credit', money: true },
  { header: '余额', key: 'balance_after', money: true },
  { header: '冲销凭证', key: 'reverses' },
  { header: '哈希', key: 'hash', width: 20 },
];

/** One row per posting, in sequence order, a chunk of entries at a time so a long journal streams. */
export async function* journalRows(
  db: Knex,
  fundId: string,
  range: { from?: string | undefined; to?: string | undefined } = {},
  chunk_entries = 2000,
): AsyncGenerator<Table['rows']> {
  const fund = await db('funds').where({ id: fundId }).first('id', 'head_seq');
  if (!fund) throw new AppError('NOT_FOUND', '没有这项资金');
  // Windows of sequence numbers up to the head as it was when the export began; a date range may leave a window empty.
  for (let after = 0; after < Number(fund.head_seq);) {
    const window = db('journal_entries as e')
      .join('postings as p', 'p.entry_id', 'e.id')
      .join('accounts as a', 'a.id', 'p.account_id')
      .leftJoin('journal_entries as r', 'r.id', 'e.reverses_entry_id')
      .where('e.fund_id', fundId)
      .where('e.seq', '>', after)
      .where('e.seq', '<=', after + chunk_entries);
    if (range.from) window.where('e.entry_date', '>=', range.from);
    if (range.to) window.where('e.entry_date', '<=', range.to);
    const rows = await window
      .orderBy(['e.seq', 'p.id'])
      .select(
        'e.seq',
        'e.entry_date',
        'e.kind',
        'e.memo',
        'e.document_no',
        'a.code',
        'a.name',
        'a.book',
        'p.side',
        'p.amount',
        'p.balance_after',
        'r.seq as reverses',
        'e.hash',
      );
    if (rows.length)
      yield rows.map((r) => ({
        seq: Number(r.seq),
        date: r.entry_date,
        kind: entryKindName(r.kind),
        memo: r.memo,
        document_no: r.document_no,
        account_code: r.code,
        account_name: r.name,
        book: r.book === 'financial' ? '财务会计' : '预算会计',
        debit: r.side === 'debit' ? r.amount : null,
        credit: r.side === 'credit' ? r.amount : null,
        balance_after: r.balance_after,
        reverses: r.reverses == null ? null : Number(r.reverses),
        hash: r.hash,
      }));
    after += chunk_entries;
  }
}

export async function trialBalanceTable(db: Knex, fundId: string, asOf?: string): Promise<Table> {
  const tb = await trialBalance(db, fundId, asOf);
  const rows = tb.accounts.map((a) => ({
    code: a.code,
    name: a.name,
    book: a.book === 'financial' ? '财务会计' : '预算会计',
    debit: a.debit,
    credit: a.credit,
  }));
  for (const [book, t] of Object.entries(tb.books))
    rows.push({ code: '', name: `${book === 'financial' ? '财务会计' : '预算会计'}合计`, book: '', debit: t.debit, credit: t.credit });
  return {
    name: `试算平衡表 ${tb.as_of ?? '当前'}`,
    columns: [
      { header: '科目代码', key: 'code' },
      { header: '科目名称', key: 'name', width: 28 },
      { header: '账簿', key: 'book' },
      { header: '借方余额', key: 'debit', money: true },
      { header: '贷方余额', key: 'credit', money: true },
    ],
    rows,
  };
}

export async function allocationRunTable(db: Knex, runId: string): Promise<Table> {
  const run = await getRun(db, runId);
  return {
    name: `分配批次 ${run.id}`,
    columns: [
      { header: '单位代码', key: 'code' },
      { header: '单位名称', key: 'name', width: 24 },
      { header: '核定奖励', key: 'entitlement', money: true },
      { header: '已分配', key: 'previously_allocated', money: true },
      { header: '应分配', key: 'due', money: true },
      { header: '本次分配', key: 'amount', money: true },
      { header: '收回', key: 'clawback', money: true },
      { header: '应收回', key: 'to_recover', money: true },
      { header: '状态', key: 'status' },
    ],
    rows: run.lines.map((l) => ({
      code: l.department_code,
      name: l.department_name,
      entitlement: l.entitlement,
      previously_allocated: l.previously_allocated,
      due: l.due,
      amount: l.amount,
      clawback: l.clawback,
      to_recover: l.to_recover,
      status: run.status,
    })),
  };
}
