import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize, allows } from '../../auth/policy.ts';
import { contextOf } from '../../http/context.ts';
import { inTransaction } from '../../db/transaction.ts';
import { prepareAppropriation } from '../../ledger/appropriate.ts';
import { createFund, getFund, listFunds } from '../../ledger/funds.ts';
import { listJournal } from '../../ledger/journal-read.ts';
import { resolveJournalFilter } from '../../ledger/journal-filter.ts';

const entryKindNames: Record<string, string> = {
  appropriation: '财政拨款',
  manual: '手工凭证',
  allocation: '分配',
  clawback: '收回',
  disbursement: '拨付',
  refund: '单位退回',
  reversal: '冲销',
};
import { trialBalance } from '../../ledger/trial-balance.ts';
import { verifyLedger } from '../../ledger/verify/verify-ledger.ts';
import { witnessFileOf } from '../../ledger/witness.ts';
import { calendarDate, money, todayInShanghai } from '../../http/schemas.ts';
import { loadProgress } from '../../progress/progress.ts';
import { html, day, moment, yuan, type Html } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';
import { AppError, validationError } from '../../errors.ts';
import { fundControlSection, waitingSection } from './approval-pages.ts';

export function fundTabs(fundId: string, req: Request): Html {
  const role = req.actor!.role;
  const tabs: Array<[string, string, boolean]> = [
    [`/funds/${fundId}`, '概况', true],
    [`/receipts?fund_id=${fundId}`, '发票', allows(role, 'receipts.read')],
    [`/funds/${fundId}/policy`, '分配政策', allows(role, 'allocation.read')],
    [`/funds/${fundId}/runs`, '分配批次', allows(role, 'allocation.read')],
    [`/funds/${fundId}/payments`, '拨付', allows(role, 'disbursements.read')],
    [`/funds/${fundId}/journal`, '序时账', allows(role, 'ledger.read')],
    [`/funds/${fundId}/trial-balance`, '试算平衡', allows(role, 'ledger.read')],
    [`/funds/${fundId}/verify`, '账簿核验', allows(role, 'ledger.read')],
    [`/funds/${fundId}/statements`, '通知书与导出', allows(role, 'statements.read')],
  ];
  return html`<p class="tabs">${tabs.filter((t) => t[2]).map(([href, label]) => html`<a class="tab" href="${href}">${label}</a> `)}</p>`;
}

const figures = (items: Array<[string, string]>) =>
  html`<div class="figures">${items.map(([label, v]) => html`<div class="figure">${label}<b>${yuan(v)}</b></div>`)}</div>`;

export function fundPages(db: Knex, config: { dataDir: string; witnessFile?: string | undefined }) {
  async function fundsList(req: Request, res: Response, errors: FormErrors = noErrors) {
    authorize(req.actor, 'funds.list');
    const q = req.query as Record<string, string | undefined>;
    const search = q.q?.trim().slice(0, 200) || undefined;
    const funds = await listFunds(db, 50, /^[0-9]+$/.test(q.cursor ?? '') ? q.cursor : undefined, search);
    const progress = allows(req.actor!.role, 'progress.read') ? await loadProgress(db) : null;
    const waiting = await waitingSection(db, req);
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '资金',
        html`${waiting}
${progress ? html`<h2>正版化进度</h2><p>共 ${progress.total} 个单位：已完成 ${progress.by_status.completed}，采购中 ${progress.by_status.procuring}，已申请经费 ${progress.by_status.awaiting_funds}，未开展 ${progress.by_status.not_started}；完成率 ${(Number(progress.completion_rate) * 100).toFixed(2)}%。<a href="/progress">详情</a></p>` : ''}
<h2>资金列表</h2>
<form method="get" class="filters"><label>查找（代码或名称） <input name="q" value="${search ?? ''}"></label> <button>查找</button></form>
<table><thead><tr><th>代码</th><th>名称</th><th>年度</th><th class="num">财政拨款</th><th class="num">已分配</th><th class="num">已拨付</th><th class="num">可分配</th></tr></thead><tbody>
${funds.items.map((f) => html`<tr><td><a href="/funds/${f.id}">${f.code}</a></td><td>${f.name}</td><td>${f.fiscal_year}</td><td class="num">${yuan(f.appropriated)}</td><td class="num">${yuan(f.allocated)}</td><td class="num">${yuan(f.disbursed)}</td><td class="num">${yuan(f.available_to_allocate)}</td></tr>`)}
</tbody></table>${funds.next_cursor ? html`<p><a href="?${new URLSearchParams({ ...(search ? { q: search } : {}), cursor: funds.next_cursor }).toString()}" rel="next" class="more">更多（下一页）</a></p>` : ''}
${
  allows(req.actor!.role, 'funds.create')
    ? html`<h2>新建资金</h2><form method="post" action="/funds">${csrfField(req)}${generalError(errors)}
<label>代码 <input name="code" value="${b.code ?? ''}" required></label>${fieldError(errors, 'code')}
<label>名称 <input name="name" value="${b.name ?? ''}" required size="40"></label>${fieldError(errors, 'name')}
<label>年度 <input name="fiscal_year" value="${b.fiscal_year ?? ''}" required size="6"></label>${fieldError(errors, 'fiscal_year')}
<label>文号 <input name="document_no" value="${b.document_no ?? ''}" required size="30"></label>${fieldError(errors, 'document_no')}
<label>启用日（默认为年度的 1 月 1 日） <input name="opening_date" type="date" value="${b.opening_date ?? ''}"></label>${fieldError(errors, 'opening_date')}
<p><button>新建</button></p></form>`
    : ''
}`,
      ),
    );
  }

  async function overview(req: Request, res: Response, errors: FormErrors = noErrors, fundId: string = idFrom(req), closeErrors: FormErrors = noErrors) {
    authorize(req.actor, 'funds.read');
    const fund = await getFund(db, fundId);
    const control = await fundControlSection(db, req, fund, closeErrors);
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        fund.name,
        html`${fundTabs(fund.id, req)}
<p>代码 ${fund.code} · ${fund.fiscal_year} 年度 · 文号 ${fund.document_no}</p>
${figures([
  ['财政拨款', fund.appropriated],
  ['已分配', fund.allocated],
  ['已拨付', fund.disbursed],
  ['可分配余额', fund.available_to_allocate],
  ['用款额度余额', fund.cash_balance],
])}
<p class="muted">账簿 ${fund.entries} 笔凭证；链头 <span class="mono">${fund.head_hash}</span></p>
${control}
${
  allows(req.actor!.role, 'ledger.post')
    ? html`<h2>登记财政拨款</h2><p class="muted">登记后为待审核凭证，由另一名会计审核后记账。</p><form method="post" action="/funds/${fund.id}/appropriations">${csrfField(req)}${generalError(errors)}
<label>金额（元） <input name="amount" value="${b.amount ?? ''}" required inputmode="decimal"></label>${fieldError(errors, 'amount')}
<label>文号 <input name="document_no" value="${b.document_no ?? ''}" required></label>${fieldError(errors, 'document_no')}
<label>日期 <input name="date" type="date" value="${b.date ?? todayInShanghai()}" required></label>${fieldError(errors, 'date')}
<p><button>登记</button></p></form>`
    : ''
}`,
      ),
    );
  }

  return {
    fundsList: (req: Request, res: Response) => fundsList(req, res),
    async createFund(req: Request, res: Response) {
      authorize(req.actor, 'funds.create');
      const b = formFields(req);
      try {
        if (!/^[0-9]{4}$/.test(b.fiscal_year ?? '')) throw validationError('fiscal_year', '请填写四位年份');
        const opening = b.opening_date ? calendarDate.safeParse(b.opening_date) : undefined;
        if (opening && !opening.success) throw validationError('opening_date', opening.error.issues[0]?.message ?? '请填写有效日期');
        const fund = await createFund(db, contextOf(req), {
          code: String(b.code ?? '').trim(),
          name: String(b.name ?? '').trim(),
          fiscal_year: Number(b.fiscal_year),
          document_no: String(b.document_no ?? '').trim(),
          opening_date: opening?.data,
        });
        res.redirect(303, `/funds/${fund.id}`);
      } catch (e) {
        await fundsList(req, res, formErrors(e));
      }
    },
    overview: (req: Request, res: Response) => overview(req, res),
    /** The fund page again, with the close form's errors. */
    overviewWithCloseErrors: (req: Request, res: Response, fundId: string, errors: FormErrors) => overview(req, res, noErrors, fundId, errors),
    async appropriate(req: Request, res: Response) {
      authorize(req.actor, 'ledger.post');
      const b = formFields(req);
      try {
        const problems = [];
        const amount = money.safeParse(b.amount);
        if (!amount.success) problems.push({ field: 'amount', message: '金额须为数字，最多两位小数，如 12450000.00' });
        if (!calendarDate.safeParse(b.date).success) problems.push({ field: 'date', message: '请填写有效日期' });
        if (!b.document_no?.trim()) problems.push({ field: 'document_no', message: '请填写文号' });
        if (problems.length || !amount.success) throw new AppError('VALIDATION_FAILED', '请更正标出的内容', problems);
        if (amount.data.isZero()) throw validationError('amount', '金额须大于 0');
        await inTransaction(db, (trx) =>
          prepareAppropriation(trx, contextOf(req), idFrom(req), { amount: amount.data, document_no: b.document_no!.trim(), date: b.date! }),
        );
        res.redirect(303, `/funds/${idFrom(req)}`);
      } catch (e) {
        await overview(req, res, formErrors(e));
      }
    },
    async journal(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const q = req.query as Record<string, string | undefined>;
      const filter = {
        limit: 50,
        cursor: /^[0-9]+$/.test(q.cursor ?? '') ? q.cursor : undefined,
        from: calendarDate.safeParse(q.from).success ? q.from : undefined,
        to: calendarDate.safeParse(q.to).success ? q.to : undefined,
        kind: q.kind || undefined,
        account: /^[0-9]{4}(\.[A-Za-z0-9_-]{1,32})?$/.test(q.account?.trim() ?? '') ? q.account!.trim() : undefined,
        department: q.department?.trim().slice(0, 200) || undefined,
      };
      const { department: _department, ...journalFilter } = filter;
      // What was typed and not understood is said, never dropped.
      let problem: string | null = q.account?.trim() && !filter.account ? `“${q.account}”不是科目代码（如 1011、2307 或 2307.XJ031），未按科目筛选。` : null;
      let resolved: Awaited<ReturnType<typeof resolveJournalFilter>> | null = null;
      try {
        resolved = await resolveJournalFilter(db, fund.id, { account: filter.account, department: filter.department });
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        problem = `${problem ?? ''}${e.errors?.[0]?.message ?? ''}：${filter.department ?? filter.account ?? ''}，请更正筛选条件。`;
      }
      const journal = resolved
        ? await listJournal(db, fund.id, {
            ...journalFilter,
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
      res.send(
        page(
          req,
          `${fund.name} · 序时账`,
          html`${fundTabs(fund.id, req)}
<form method="get" class="filters">从 <input type="date" name="from" value="${filter.from ?? ''}"> 至 <input type="date" name="to" value="${filter.to ?? ''}">
类型 <select name="kind"><option value="">全部</option>${Object.entries(entryKindNames).map(([k, v]) => html`<option value="${k}" ${filter.kind === k ? 'selected' : ''}>${v}</option>`)}</select>
科目 <input name="account" value="${q.account ?? ''}" size="12" placeholder="如 2307 或 2307.XJ005">
单位 <input name="department" value="${filter.department ?? ''}" size="16" placeholder="代码或名称"> <button>筛选</button></form>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}${resolved ? html`<p class="filter-description">${resolved.description}${journal.items.length ? '' : '：没有符合条件的凭证'}。</p>` : ''}
<table><thead><tr><th>凭证号</th><th>日期</th><th>类型</th><th>摘要</th><th>科目</th><th class="num">借方</th><th class="num">贷方</th><th class="num">余额</th></tr></thead><tbody>
${journal.items.map((e) => e.postings.map((p, i) => html`<tr>${i === 0 ? html`<td rowspan="${e.postings.length}"><a href="/entries/${e.id}">${e.seq}</a></td><td rowspan="${e.postings.length}">${day(e.date)}</td><td rowspan="${e.postings.length}">${entryKindNames[e.kind] ?? e.kind}${e.reversed_by_entry_id ? html`<br><span class="muted">已冲销</span>` : ''}</td><td rowspan="${e.postings.length}">${e.memo}<br><span class="muted">制单 ${e.created_by_name ?? '—'} · 审核 ${e.approved_by_name ?? '—'}</span></td>` : ''}<td>${p.account_code} ${p.account_name}</td><td class="num">${p.side === 'debit' ? yuan(p.amount) : ''}</td><td class="num">${p.side === 'credit' ? yuan(p.amount) : ''}</td><td class="num">${yuan(p.balance_after)}</td></tr>`))}
</tbody></table>
${journal.next_cursor ? html`<p><a href="?${keep.toString()}${keep.toString() ? '&' : ''}cursor=${journal.next_cursor}">更早的凭证 →</a></p>` : ''}`,
        ),
      );
    },
    async trialBalance(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const asOf = calendarDate.safeParse(req.query.as_of).success ? String(req.query.as_of) : undefined;
      const tb = await trialBalance(db, fund.id, asOf);
      res.send(
        page(
          req,
          `${fund.name} · 试算平衡表`,
          html`${fundTabs(fund.id, req)}
<form method="get">截至 <input type="date" name="as_of" value="${asOf ?? ''}"> <button>查看</button></form>
<table><thead><tr><th>科目代码</th><th>科目名称</th><th>账簿</th><th class="num">借方余额</th><th class="num">贷方余额</th></tr></thead><tbody>
${tb.accounts.map((a) => html`<tr><td>${a.code}</td><td>${a.name}</td><td>${a.book === 'financial' ? '财务会计' : '预算会计'}</td><td class="num">${yuan(a.debit)}</td><td class="num">${yuan(a.credit)}</td></tr>`)}
${Object.entries(tb.books).map(([book, t]) => html`<tr><th colspan="3">${book === 'financial' ? '财务会计' : '预算会计'}合计 ${t.balanced ? '（平衡）' : '（不平衡！）'}</th><th class="num">${yuan(t.debit)}</th><th class="num">${yuan(t.credit)}</th></tr>`)}
</tbody></table>`,
        ),
      );
    },
    async verify(req: Request, res: Response) {
      authorize(req.actor, 'ledger.read');
      const fund = await getFund(db, idFrom(req));
      const mode = (req.query as Record<string, unknown>).mode === 'incremental' ? 'incremental' : 'full';
      const r = await verifyLedger(db, fund.id, witnessFileOf(config), mode, req.actor!.id);
      const checked =
        r.mode === 'incremental' && r.checkpoint
          ? `增量核验：自 ${moment(r.checkpoint.verified_at)} 核验通过的检查点（第 ${r.checkpoint.seq} 号凭证）起，重算了其后 ${r.entries_checked} 笔凭证；共 ${r.entries} 笔`
          : `全量核验：${r.entries} 笔凭证逐笔重算${mode === 'incremental' ? '（尚无检查点，本次按全量核验）' : ''}`;
      res.send(
        page(
          req,
          `${fund.name} · 账簿核验`,
          html`${fundTabs(fund.id, req)}
<form method="get" class="verify-mode">
<label><input type="radio" name="mode" value="full"${mode === 'full' ? ' checked' : ''}> 全量核验</label>：逐笔重算全部凭证的哈希、每笔分录后的余额、各科目余额与资金数，核对全部锚点。账簿越大耗时越长（千万笔分录约需一分钟）。<br>
<label><input type="radio" name="mode" value="incremental"${mode === 'incremental' ? ' checked' : ''}> 增量核验</label>：只重算上次核验通过（检查点）之后的凭证，检查点及以前的凭证只核对其存储的哈希与检查点、锚点是否一致。
<strong>增量核验发现不了检查点以前某笔凭证内容被改动而其哈希未动的情形</strong>，这只有全量核验能发现；审计结论应以全量核验为准。
<button>核验</button>
</form>
<p>${checked}。</p>
${r.ok ? html`<p class="notice" role="status">账簿完整：${r.entries} 笔凭证的哈希链核验通过，每笔分录后的余额、各科目余额和资金的拨入、分配、拨付数与分录一致，所有锚点（通知书、见证文件）仍在链上。</p>` : html`<p class="error" role="alert">账簿异常，发现 ${r.problems.length} 个问题${r.first_bad_seq ? `，最早在第 ${r.first_bad_seq} 号凭证` : ''}：</p><ul>${r.problems.map((p) => html`<li>${p.detail}</li>`)}</ul>`}
<p>链头 <span class="mono">${r.head_hash}</span></p>
<p><a href="/api/v1/funds/${fund.id}/audit-bundle.zip">下载审计包（audit-bundle.zip）</a>：凭证、分录、科目、分配方案、拨付、通知书与锚点，附 SHA-256 清单；审计人员可在自己的电脑上用 <span class="mono">npm run verify-bundle -- 文件.zip</span> 离线复核。</p>`,
        ),
      );
    },
  };
}
