import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../auth/policy.ts';
import { AppError } from '../../errors.ts';
import { calendarDate, todayInShanghai } from '../../http/schemas.ts';
import { accountLedger, generalLedger, ledgerAccountOf, type Period } from '../../ledger/account-books.ts';
import { entryKindName, entryKindNames } from '../../ledger/entry-kinds.ts';
import { getFund } from '../../ledger/funds.ts';
import { listJournal } from '../../ledger/journal-read.ts';
import { resolveJournalFilter } from '../../ledger/journal-filter.ts';
import { trialBalance } from '../../ledger/trial-balance.ts';
import { day, html, yuan, type Html } from '../html.ts';
import { idFrom, page } from '../layout.ts';
import { fundTabs } from './fund-pages.ts';

/* The books as accountants read them: 序时账 by voucher number, 总账, 明细账, the trial balance. */

const bookNames: Record<string, string> = { financial: '财务会计', budget: '预算会计' };
const accountCodePattern = /^[0-9]{4}(\.[A-Za-z0-9_-]{1,32})?$/;
const printButton = html`<button type="button" class="secondary print-button no-print" data-print>打印</button><script src="/assets/print.js" defer></script>`;

/** The period asked for, or from the fund's opening date to today; a bad date is said, never silently dropped. */
function periodOf(req: Request, fund: { opening_date: string }): { period: Period; problem: string | null } {
  const q = req.query as Record<string, string | undefined>;
  const problems: string[] = [];
  const pick = (name: 'from' | 'to', fallback: string) => {
    const v = q[name]?.trim();
    if (!v) return fallback;
    if (calendarDate.safeParse(v).success) return v;
    problems.push(`“${v}”不是有效日期（YYYY-MM-DD）`);
    return fallback;
  };
  const period = { from: pick('from', fund.opening_date), to: pick('to', todayInShanghai()) };
  if (period.from > period.to) problems.push('起始日期晚于截止日期');
  return { period, problem: problems.length ? `${problems.join('；')}，请更正期间。` : null };
}

const periodFields = (period: Period) =>
  html`<label class="inline-label">期间自 <input type="date" name="from" value="${period.from}"></label> <label class="inline-label">至 <input type="date" name="to" value="${period.to}"></label>`;

const balanceCells = (b: { direction: string; amount: string }) => html`<td class="dir">${b.direction}</td><td class="num">${yuan(b.amount)}</td>`;

const ledgerLink = (fundId: string, code: string, period: Period) =>
  `/funds/${fundId}/accounts/${encodeURIComponent(code)}/ledger?${new URLSearchParams({ from: period.from, to: period.to }).toString()}`;

export function ledgerPages(db: Knex) {
  return {
    /** 序时账: every voucher of the fund, oldest first by 凭证字号, 50 a page, within a date range. */
    async journal(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const q = req.query as Record<string, string | undefined>;
      const filter = {
        limit: 50,
        cursor: /^[0-9]{1,18}$/.test(q.cursor ?? '') ? q.cursor : undefined,
        from: calendarDate.safeParse(q.from).success ? q.from : undefined,
        to: calendarDate.safeParse(q.to).success ? q.to : undefined,
        kind: q.kind && q.kind in entryKindNames ? q.kind : undefined,
        account: accountCodePattern.test(q.account?.trim() ?? '') ? q.account!.trim() : undefined,
        department: q.department?.trim().slice(0, 200) || undefined,
      };
      const { department: _department, ...journalFilter } = filter;
      // What was typed and not understood is said, never dropped.
      const problems: string[] = [];
      if (q.account?.trim() && !filter.account) problems.push(`“${q.account}”不是科目代码（如 1011、2307 或 2307.XJ031），未按科目筛选。`);
      for (const name of ['from', 'to'] as const)
        if (q[name]?.trim() && !filter[name]) problems.push(`“${q[name]}”不是有效日期（YYYY-MM-DD），未按该日期筛选。`);
      let resolved: Awaited<ReturnType<typeof resolveJournalFilter>> | null = null;
      try {
        resolved = await resolveJournalFilter(db, fund.id, { account: filter.account, department: filter.department });
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        problems.push(`${e.errors?.[0]?.message ?? ''}：${filter.department ?? filter.account ?? ''}，请更正筛选条件。`);
      }
      const journal = resolved
        ? await listJournal(db, fund.id, {
            ...journalFilter,
            order: 'number',
            department_ids: resolved.departmentIds,
            account_is_parent: resolved.accountIsParent,
            account_ids: resolved.accountIds,
          })
        : { items: [], next_cursor: null };
      const keep = new URLSearchParams(
        Object.entries({ from: filter.from, to: filter.to, kind: filter.kind, account: filter.account, department: filter.department }).filter(
          ([, v]) => v,
        ) as Array<[string, string]>,
      );
      const firstPage = `?${keep.toString()}`;
      res.send(
        page(
          req,
          `${fund.name} · 序时账`,
          html`${fundTabs(fund.id, req)}
<form method="get" class="filters no-print"><label class="inline-label">日期自 <input type="date" name="from" value="${filter.from ?? ''}"></label> <label class="inline-label">至 <input type="date" name="to" value="${filter.to ?? ''}"></label>
<label class="inline-label">类型 <select name="kind"><option value="">全部</option>${Object.entries(entryKindNames).map(([k, v]) => html`<option value="${k}" ${filter.kind === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label class="inline-label">科目 <input name="account" value="${q.account ?? ''}" size="12" placeholder="如 2307 或 2307.XJ005"></label>
<label class="inline-label">单位 <input name="department" value="${filter.department ?? ''}" size="16" placeholder="代码或名称"></label> <button>筛选</button> ${printButton}</form>
${problems.length ? html`<p class="error" role="alert">${problems.join(' ')}</p>` : ''}${resolved ? html`<p class="filter-description">${resolved.description}${journal.items.length ? '' : '：没有符合条件的凭证'}。</p>` : ''}
<div class="table-wrap"><table class="journal"><thead><tr><th scope="col">日期</th><th scope="col">凭证字号</th><th scope="col">摘要</th><th scope="col">科目代码</th><th scope="col">科目名称</th><th scope="col" class="num">借方金额</th><th scope="col" class="num">贷方金额</th></tr></thead><tbody>
${journal.items.map((e) =>
  e.postings.map(
    (p, i) =>
      html`<tr${i === 0 ? html` class="entry-first" data-entry="${e.id}"` : ''}>${i === 0 ? html`<td rowspan="${e.postings.length}">${day(e.date)}</td><td rowspan="${e.postings.length}"><a class="voucher-link" href="/entries/${e.id}">${e.voucher_no}</a><br><span class="muted">${entryKindName(e.kind)}${e.reversed_by_entry_id ? ' · 已冲销' : ''}</span></td><td rowspan="${e.postings.length}">${e.memo}<br><span class="muted">制单 ${e.created_by_name ?? '—'} · 审核 ${e.approved_by_name ?? '—'}</span></td>` : ''}<td>${p.account_code}</td><td>${p.account_name}</td><td class="num">${p.side === 'debit' ? yuan(p.amount) : ''}</td><td class="num">${p.side === 'credit' ? yuan(p.amount) : ''}</td></tr>`,
  ),
)}
${journal.items.length === 0 ? html`<tr><td colspan="7" class="empty">本期间没有凭证。</td></tr>` : ''}
</tbody></table></div>
<p class="pager no-print">${filter.cursor ? html`<a href="${firstPage}">← 第一页</a> ` : ''}${journal.next_cursor ? html`<a rel="next" href="?${keep.toString()}${keep.toString() ? '&' : ''}cursor=${journal.next_cursor}">下一页（后续凭证）→</a>` : ''}</p>`,
        ),
      );
    },

    /** 试算平衡表: each row opens its account's 明细账. */
    async trialBalance(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const asOf = calendarDate.safeParse(req.query.as_of).success ? String(req.query.as_of) : undefined;
      const tb = await trialBalance(db, fund.id, asOf);
      const period = { from: fund.opening_date, to: asOf ?? todayInShanghai() };
      res.send(
        page(
          req,
          `${fund.name} · 试算平衡表`,
          html`${fundTabs(fund.id, req)}
<form method="get" class="filters no-print"><label class="inline-label">截至 <input type="date" name="as_of" value="${asOf ?? ''}"></label> <button>查看</button> ${printButton}</form>
<div class="table-wrap"><table class="trial-balance"><thead><tr><th scope="col">科目代码</th><th scope="col">科目名称</th><th scope="col">账簿</th><th scope="col" class="num">借方余额</th><th scope="col" class="num">贷方余额</th></tr></thead><tbody>
${tb.accounts.map((a) => html`<tr><td><a href="${ledgerLink(fund.id, a.code, period)}">${a.code}</a></td><td><a href="${ledgerLink(fund.id, a.code, period)}">${a.name}</a></td><td>${bookNames[a.book]}</td><td class="num">${yuan(a.debit)}</td><td class="num">${yuan(a.credit)}</td></tr>`)}
${Object.entries(tb.books).map(([book, t]) => html`<tr class="total-row"><th colspan="3" scope="row">${bookNames[book]}合计 ${t.balanced ? '（平衡）' : '（不平衡！）'}</th><th class="num">${yuan(t.debit)}</th><th class="num">${yuan(t.credit)}</th></tr>`)}
</tbody></table></div>`,
        ),
      );
    },

    /** 总账 of one book: 期初余额, 本期借方, 本期贷方, 期末余额 per first-level account; each opens its 明细账. */
    async generalLedger(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const book = req.query.book === 'budget' ? 'budget' : 'financial';
      const { period, problem } = periodOf(req, fund);
      const gl = problem ? null : await generalLedger(db, fund.id, book, period);
      res.send(
        page(
          req,
          `${fund.name} · 总账`,
          html`${fundTabs(fund.id, req)}
<form method="get" class="filters no-print"><label class="inline-label">账簿 <select name="book">${Object.entries(bookNames).map(([k, v]) => html`<option value="${k}" ${book === k ? 'selected' : ''}>${v}</option>`)}</select></label>
${periodFields(period)} <button>查看</button> ${printButton}</form>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}
<p class="ledger-head">${bookNames[book]} · 期间 ${day(period.from)} 至 ${day(period.to)} · 金额单位：元</p>
${
  gl
    ? html`<div class="table-wrap"><table class="general-ledger"><thead><tr><th scope="col" rowspan="2">科目代码</th><th scope="col" rowspan="2">科目名称</th><th scope="colgroup" colspan="2">期初余额</th><th scope="col" rowspan="2" class="num">本期借方</th><th scope="col" rowspan="2" class="num">本期贷方</th><th scope="colgroup" colspan="2">期末余额</th></tr>
<tr><th scope="col">方向</th><th scope="col" class="num">金额</th><th scope="col">方向</th><th scope="col" class="num">金额</th></tr></thead><tbody>
${gl.accounts.map((a) => html`<tr data-code="${a.code}"><td><a href="${ledgerLink(fund.id, a.code, period)}">${a.code}</a></td><td><a href="${ledgerLink(fund.id, a.code, period)}">${a.name}</a></td>${balanceCells(a.opening)}<td class="num">${yuan(a.debit)}</td><td class="num">${yuan(a.credit)}</td>${balanceCells(a.closing)}</tr>`)}
<tr class="total-row"><th colspan="4" scope="row">本期合计</th><td class="num">${yuan(gl.debit_total)}</td><td class="num">${yuan(gl.credit_total)}</td><td colspan="2"></td></tr>
</tbody></table></div>`
    : ''
}`,
        ),
      );
    },

    /** 明细账 of one account (or a first-level account with its unit sub-accounts) for a period. */
    async accountLedger(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const code = String(req.params.code ?? '');
      if (!accountCodePattern.test(code)) throw new AppError('NOT_FOUND', '没有这个科目');
      const { period, problem } = periodOf(req, fund);
      const cursor = /^[0-9]{1,18}$/.test(String(req.query.cursor ?? '')) ? String(req.query.cursor) : undefined;
      const ledger = problem ? null : await accountLedger(db, fund.id, code, period, 100, cursor);
      const title = ledger ? `${ledger.account.code} ${ledger.account.name}` : code;
      const parent = ledgerAccountOf(code)?.parent ?? false;
      const periodQuery = new URLSearchParams({ from: period.from, to: period.to }).toString();
      const body: Html = ledger
        ? html`<p class="ledger-head">科目：<b>${title}</b>（${bookNames[ledger.account.book]}，余额方向${ledger.account.normal_side === 'debit' ? '借' : '贷'}${parent ? `，含 ${ledger.account.sub_accounts} 个明细科目` : ''}）· 期间 ${day(period.from)} 至 ${day(period.to)} · 金额单位：元</p>
<div class="table-wrap"><table class="account-ledger"><thead><tr><th scope="col">日期</th><th scope="col">凭证字号</th><th scope="col">摘要</th>${parent ? html`<th scope="col">明细科目</th>` : ''}<th scope="col" class="num">借方</th><th scope="col" class="num">贷方</th><th scope="col">方向</th><th scope="col" class="num">余额</th></tr></thead><tbody>
${cursor ? '' : html`<tr class="opening-row"><td>${day(period.from)}</td><td></td><td>期初余额</td>${parent ? html`<td></td>` : ''}<td></td><td></td>${balanceCells(ledger.opening)}</tr>`}
${ledger.items.map((i) => html`<tr><td>${day(i.date)}</td><td><a class="voucher-link" href="/entries/${i.entry_id}">${i.voucher_no}</a></td><td>${i.memo}<br><span class="muted">${entryKindName(i.kind)}</span></td>${parent ? html`<td><a href="${ledgerLink(fund.id, i.account_code, period)}">${i.account_code}</a></td>` : ''}<td class="num">${i.debit ? yuan(i.debit) : ''}</td><td class="num">${i.credit ? yuan(i.credit) : ''}</td>${balanceCells({ direction: i.direction, amount: i.balance })}</tr>`)}
${ledger.next_cursor ? '' : html`<tr class="total-row"><th scope="row" colspan="${parent ? 4 : 3}">本期合计</th><td class="num period-debit">${yuan(ledger.debit_total)}</td><td class="num period-credit">${yuan(ledger.credit_total)}</td>${balanceCells(ledger.closing)}</tr>`}
</tbody></table></div>
<p class="pager no-print">${cursor ? html`<a href="?${periodQuery}">← 第一页</a> ` : ''}${ledger.next_cursor ? html`<a rel="next" href="?${periodQuery}&cursor=${ledger.next_cursor}">下一页 →</a>` : ''}</p>`
        : html``;
      res.send(
        page(
          req,
          `${fund.name} · 明细账 ${title}`,
          html`${fundTabs(fund.id, req)}
<p class="no-print"><a href="/funds/${fund.id}/general-ledger?${periodQuery}&book=${ledgerAccountOf(code.split('.')[0]!)?.book ?? 'financial'}">← 返回总账</a></p>
<form method="get" class="filters no-print">${periodFields(period)} <button>查看</button> ${printButton}</form>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}${body}`,
        ),
      );
    },
  };
}
