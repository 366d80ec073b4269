import type { Knex } from 'knex';
import { withSeparators } from '../../reports/format.ts';
import type { Actor } from '../auth/roles.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { voucherNo } from '../ledger/journal-read.ts';
import { waitingFor } from '../ledger/waiting.ts';
import { currentDeadline } from '../progress/progress.ts';

/*
 * What waits for each role (待办): the sections of its work page and the count beside 待办 in the
 * navigation. A section counts when someone must act on it; the auditor's recent postings inform and
 * do not count. Each list shows the oldest first (what has waited longest), at most `shown` rows.
 */

export interface QueueItem {
  label: string;
  href: string;
  date: string | null;
  detail: string | null;
}

export interface QueueSection {
  key: string;
  title: string;
  count: number;
  counts: boolean;
  items: QueueItem[];
  /** The page with the whole list, and where to act. */
  more: string | null;
  empty: string;
}

const shown = 20;
type Row = Record<string, unknown>;
const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d == null ? null : String(d));
const total = async (q: Knex.QueryBuilder) => Number((await q.clone().clearSelect().clearOrder().count({ n: '*' }).first())?.n ?? 0);

async function section(q: Knex.QueryBuilder, meta: Omit<QueueSection, 'count' | 'items'>, item: (r: Row) => QueueItem): Promise<QueueSection> {
  const [count, rows] = await Promise.all([total(q), q.clone().limit(shown)]);
  return { ...meta, count, items: (rows as Row[]).map(item) };
}

/** Units that have not started, past the current deadline, with no written report for it. */
function overdueReports(db: Knex, deadline: { id: string; deadline: string } | null, today: string, departmentId?: string) {
  const q = db('departments as d')
    .where('d.status', 'not_started')
    .where('d.active', true)
    .whereNotExists(
      db('written_reports as w')
        .whereRaw('w.department_id = d.id')
        .where('w.deadline_id', deadline?.id ?? '0'),
    )
    .orderBy('d.code')
    .select('d.id', 'd.code', 'd.name');
  if (!deadline || deadline.deadline >= today) q.whereRaw('false');
  if (departmentId) q.where('d.id', departmentId);
  return q;
}

async function accountantQueue(db: Knex, actor: Actor): Promise<QueueSection[]> {
  const today = todayInShanghai();
  const deadline = await currentDeadline(db);
  const approvals = await waitingFor(db, actor.id);
  return [
    {
      key: 'approvals',
      title: '待我审核（他人制单）',
      count: approvals.length,
      counts: true,
      items: approvals.slice(0, shown).map((i) => ({
        label: `${i.fund_code} · ${i.what}`,
        href: {
          entry: `/entries/${i.id}`,
          batch: `/funds/${i.fund_id}`,
          run: `/runs/${i.id}`,
          payment: `/funds/${i.fund_id}/payments`,
          close: `/funds/${i.fund_id}`,
          clawback: '/clawbacks',
        }[i.type],
        date: i.date,
        detail: `制单 ${i.prepared_by}${i.amount ? ` · ${withSeparators(i.amount)} 元` : ''}`,
      })),
      more: '/funds',
      empty: '没有等待您审核的凭证、分配方案、拨付、结账或收回。',
    },
    await section(
      db('receipts as r')
        .join('departments as d', 'd.id', 'r.department_id')
        .where('r.status', 'submitted')
        .orderBy('r.id')
        .select('r.id', 'r.invoice_number', 'r.total', 'r.submitted_at', 'd.name'),
      { key: 'receipts', title: '待审核发票', counts: true, more: '/receipts?status=submitted', empty: '没有待审核的发票。' },
      (r) => ({
        label: `${String(r.name)} · 发票 ${String(r.invoice_number)}`,
        href: `/receipts/${String(r.id)}`,
        date: iso(r.submitted_at),
        detail: `${withSeparators(String(r.total))} 元`,
      }),
    ),
    await section(
      db('departments as d')
        .where({ 'd.status': 'completed', 'd.active': true })
        .whereNull('d.accepted_on')
        .orderBy('d.code')
        .select('d.id', 'd.code', 'd.name'),
      { key: 'acceptance', title: '待验收单位（已完成正版化）', counts: true, more: '/departments/acceptance', empty: '没有待验收的单位。' },
      (r) => ({ label: `${String(r.code)} ${String(r.name)}`, href: `/departments/${String(r.id)}`, date: null, detail: null }),
    ),
    await section(
      overdueReports(db, deadline, today),
      {
        key: 'reports',
        title: `逾期未报书面报告${deadline ? `（截止 ${deadline.deadline}）` : ''}`,
        counts: true,
        more: '/progress',
        empty: deadline ? '没有逾期未报的单位。' : '尚未要求报送书面报告。',
      },
      (r) => ({
        label: `${String(r.code)} ${String(r.name)}`,
        href: `/departments/${String(r.id)}`,
        date: deadline?.deadline ?? null,
        detail: '未开展，未报送书面报告',
      }),
    ),
  ];
}

async function departmentQueue(db: Knex, actor: Actor): Promise<QueueSection[]> {
  const departmentId = actor.departmentId ?? '0';
  const today = todayInShanghai();
  const deadline = await currentDeadline(db);
  const owed = db('departments as d')
    .where('d.id', departmentId)
    .where('d.status', 'not_started')
    .whereNotExists(
      db('written_reports as w')
        .whereRaw('w.department_id = d.id')
        .where('w.deadline_id', deadline?.id ?? '0'),
    )
    .select('d.id');
  if (!deadline) owed.whereRaw('false');
  return [
    await section(
      db('receipts as r')
        .where({ 'r.department_id': departmentId, 'r.status': 'rejected' })
        .whereNotExists(db('receipts as c').whereRaw('c.supersedes_id = r.id').whereIn('c.status', ['submitted', 'verified']))
        .orderBy('r.id')
        .select('r.id', 'r.invoice_number', 'r.total', 'r.status_reason', 'r.reviewed_at'),
      { key: 'rejected', title: '被退回待更正的发票', counts: true, more: '/receipts?status=rejected', empty: '没有被退回的发票。' },
      (r) => ({
        label: `发票 ${String(r.invoice_number)}（${withSeparators(String(r.total))} 元）`,
        href: `/receipts/${String(r.id)}/resubmit`,
        date: iso(r.reviewed_at),
        detail: r.status_reason ? `退回原因：${String(r.status_reason)}` : null,
      }),
    ),
    await section(
      db('findings as f').where({ 'f.department_id': departmentId, 'f.status': 'open' }).orderBy('f.deadline').select('f.id', 'f.description', 'f.deadline'),
      { key: 'findings', title: '待答复的督查问题', counts: true, more: '/findings', empty: '没有待答复的督查问题。' },
      (r) => ({
        label: String(r.description).slice(0, 60),
        href: `/findings/${String(r.id)}`,
        date: iso(r.deadline),
        detail: String(iso(r.deadline)) < today ? '已逾期' : '整改期限内',
      }),
    ),
    await section(owed, { key: 'report', title: '应报送的书面报告', counts: true, more: '/my', empty: '没有应报送的书面报告。' }, () => ({
      label: deadline?.title ?? '书面报告',
      href: '/my#written-report',
      date: deadline?.deadline ?? null,
      detail: deadline && deadline.deadline < today ? '已逾期' : '请在截止日前报送',
    })),
  ];
}

async function auditorQueue(db: Knex): Promise<QueueSection[]> {
  const lastVerify = db('audit_log as l')
    .where('l.action', 'ledger.verify')
    .whereRaw('l.object_id = f.id::text')
    .orderBy('l.id', 'desc')
    .limit(1)
    .select(db.raw("l.after || jsonb_build_object('at', l.at)"));
  const funds = (await db('funds as f')
    .orderBy('f.id')
    .select('f.id', 'f.code', 'f.head_hash', 'f.head_seq', db.raw('(?) AS last', [lastVerify]))) as Row[];
  // A fund needs verifying when it was never verified, its last check failed, or it has posted since.
  const verify = funds.map((f) => {
    const last = f.last as { ok?: boolean; head_hash?: string; at?: string } | null;
    const stale = !last || !last.ok || last.head_hash !== f.head_hash;
    return {
      stale,
      item: {
        label: `${String(f.code)}：${!last ? '从未核验' : last.ok ? (stale ? '核验通过，之后有新凭证' : '核验通过') : '上次核验发现问题'}`,
        href: `/funds/${String(f.id)}/verify`,
        date: last?.at ?? null,
        detail: `共 ${String(f.head_seq)} 笔凭证`,
      },
    };
  });
  return [
    {
      key: 'verify',
      title: '账簿核验（最近一次结果）',
      count: verify.filter((v) => v.stale).length,
      counts: true,
      items: verify.map((v) => v.item).slice(0, shown),
      more: '/funds',
      empty: '尚无资金。',
    },
    await section(
      db('statements as s')
        .join('funds as f', 'f.id', 's.fund_id')
        .leftJoin('departments as d', 'd.id', 's.department_id')
        .whereNotExists(
          db('audit_log as l').where('l.action', 'statement.verify').whereRaw('l.object_id = s.statement_no').whereRaw("(l.after->>'genuine')::boolean"),
        )
        .orderBy('s.id')
        .select('s.statement_no', 's.issued_at', 's.kind', 'd.name', 'f.id as fund_id'),
      { key: 'statements', title: '尚未核验的通知书', counts: true, more: '/statements/verify', empty: '没有待核验的通知书。' },
      (r) => ({
        label: `${String(r.statement_no)} · ${r.kind === 'summary' ? '资金汇总表' : String(r.name)}`,
        href: '/statements/verify',
        date: iso(r.issued_at),
        detail: '上传该通知书 PDF 核验真伪',
      }),
    ),
    await section(
      db('journal_entries as e')
        .join('funds as f', 'f.id', 'e.fund_id')
        .join('voucher_numbers as v', 'v.entry_id', 'e.id')
        .orderBy('e.id', 'desc')
        .select('e.id', 'e.entry_date', 'e.memo', 'e.created_at', 'f.code', 'v.voucher_year', 'v.number'),
      { key: 'postings', title: '最近记账', counts: false, more: '/funds', empty: '尚无凭证。' },
      (r) => ({
        label: `${String(r.code)} ${String(r.voucher_year)} 年 ${voucherNo(Number(r.number))} · ${String(r.memo)}`,
        href: `/entries/${String(r.id)}`,
        date: iso(r.entry_date),
        detail: null,
      }),
    ),
  ];
}

async function inspectorQueue(db: Knex): Promise<QueueSection[]> {
  const today = todayInShanghai();
  return [
    await section(
      db('findings as f')
        .join('departments as d', 'd.id', 'f.department_id')
        .where('f.status', 'answered')
        .orderBy('f.id')
        .select('f.id', 'f.description', 'f.deadline', 'd.name'),
      { key: 'answered', title: '单位已答复、待复查销号的问题', counts: true, more: '/findings?status=answered', empty: '没有待复查的问题。' },
      (r) => ({ label: `${String(r.name)}：${String(r.description).slice(0, 50)}`, href: `/findings/${String(r.id)}`, date: iso(r.deadline), detail: null }),
    ),
    await section(
      db('findings as f')
        .join('departments as d', 'd.id', 'f.department_id')
        .where('f.status', 'open')
        .where('f.deadline', '<', today)
        .orderBy('f.deadline')
        .select('f.id', 'f.description', 'f.deadline', 'd.name'),
      { key: 'overdue', title: '逾期未整改的问题', counts: true, more: '/findings?overdue=1', empty: '没有逾期未整改的问题。' },
      (r) => ({
        label: `${String(r.name)}：${String(r.description).slice(0, 50)}`,
        href: `/findings/${String(r.id)}`,
        date: iso(r.deadline),
        detail: '已过整改期限',
      }),
    ),
  ];
}

/** The sections of `actor`'s work page; none for roles with no queue (admin). */
export async function workQueue(db: Knex, actor: Actor): Promise<QueueSection[]> {
  if (actor.role === 'accountant') return accountantQueue(db, actor);
  if (actor.role === 'department') return departmentQueue(db, actor);
  if (actor.role === 'auditor') return auditorQueue(db);
  if (actor.role === 'inspector') return inspectorQueue(db);
  return [];
}

/** The number beside 待办: everything in the queue someone must act on. */
export async function workCount(db: Knex, actor: Actor): Promise<number> {
  return (await workQueue(db, actor)).filter((s) => s.counts).reduce((n, s) => n + s.count, 0);
}
