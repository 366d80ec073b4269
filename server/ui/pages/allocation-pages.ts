import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { Decimal } from 'decimal.js';
import { cancelDisbursement, createDisbursement, listDisbursements, prepareRefund } from '../../allocation/disbursements.ts';
import { approveDisbursement, approveDisbursements } from '../../allocation/payment-approval.ts';
import { prepareRunDisbursements } from '../../allocation/run-disbursements.ts';
import { listPolicies, setPolicy } from '../../allocation/policy.ts';
import { fundPositions } from '../../allocation/positions.ts';
import { approveRun, cancelRun, createRun, getRun, listRuns } from '../../allocation/runs.ts';
import { allows, authorize } from '../../auth/policy.ts';
import { inTransaction } from '../../db/transaction.ts';
import { AppError, describeProblems, type FieldError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { calendarDate, money, todayInShanghai } from '../../http/schemas.ts';
import { getFund } from '../../ledger/funds.ts';
import { explain } from '../../../reports/statement-model.ts';
import { categoryNames, day, html, moment, yuan } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';
import { fundTabs } from './fund-pages.ts';

const categories = ['os', 'office', 'antivirus', 'other'] as const;
const runStatusNames: Record<string, string> = {
  draft: '待审批',
  stale: '已过时（须重新计算）',
  superseded: '已被新方案取代',
  approved: '已审批',
  cancelled: '已取消',
};
const exclusionNames: Record<string, string> = {
  not_completed: '尚未完成正版化',
  not_accepted: '已完成但尚未验收（或验收晚于截至日）',
  no_verified_receipts: '没有审核通过的发票',
  ceiling_reached: '已达单位奖励上限',
  nothing_new: '此前已足额分配，没有新增',
};
const rateRule = /^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$/;

function fail(problems: FieldError[]): never {
  throw new AppError('VALIDATION_FAILED', describeProblems(problems), problems);
}

function paymentInput(b: Record<string, string>) {
  const problems: FieldError[] = [];
  const amount = money.safeParse(b.amount?.trim());
  if (!amount.success || amount.data.isZero()) problems.push({ field: 'amount', message: '金额须为大于 0 的数字，最多两位小数' });
  if (!calendarDate.safeParse(b.date).success) problems.push({ field: 'date', message: '请填写有效日期' });
  if (!b.voucher_no?.trim()) problems.push({ field: 'voucher_no', message: '请填写凭证号' });
  if (!/^[0-9]+$/.test(b.department_id ?? '')) problems.push({ field: 'department_id', message: '请选择单位' });
  if (problems.length || !amount.success) fail(problems);
  return { department_id: b.department_id!, amount: amount.data, voucher_no: b.voucher_no!.trim(), date: b.date!, memo: b.memo?.trim() || undefined };
}

/** The `cursor` of a list page's query string, if it is one. */
function cursorFrom(req: Request): string | undefined {
  const cursor = req.query.cursor;
  return typeof cursor === 'string' && /^[0-9]{1,18}$/.test(cursor) ? cursor : undefined;
}

function nextPage(cursor: string | null) {
  return cursor ? html`<p><a href="?cursor=${cursor}" rel="next">更多（下一页）</a></p>` : '';
}

export function allocationPages(db: Knex) {
  async function policyPage(req: Request, res: Response, errors: FormErrors = noErrors) {
    authorize(req.actor, 'allocation.read');
    const fund = await getFund(db, idFrom(req));
    const cursor = cursorFrom(req);
    const versions = await listPolicies(db, fund.id, { limit: 100, cursor });
    const current = cursor ? (await listPolicies(db, fund.id, { limit: 1 })).items[0] : versions.items[0];
    const b = formFields(req);
    const value = (name: string, fallback: string | null | undefined) => b[name] ?? fallback ?? '';
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `${fund.name} · 分配政策`,
        html`${fundTabs(fund.id, req)}
${current ? html`<p>现行第 ${current.version} 版（${moment(current.created_at)}）：${current.require_completed ? '仅已完成并验收的单位参与分配' : '所有单位参与分配'}${current.department_ceiling ? `；单位上限 ${yuan(current.department_ceiling)} 元` : ''}。</p>` : html`<p class="muted">尚未制定分配政策。</p>`}
${
  allows(req.actor!.role, 'allocation.policy')
    ? html`<form method="post" action="/funds/${fund.id}/policy">${csrfField(req)}${generalError(errors)}
<table><thead><tr><th>类别</th><th>奖励比例（0–1，如 0.50）</th><th>每套封顶（元，可空）</th></tr></thead><tbody>
${categories.map((c) => html`<tr><td>${categoryNames[c]}</td><td><input name="rate_${c}" aria-label="${categoryNames[c]} 奖励比例" value="${value(`rate_${c}`, current?.rates[c] ?? '0.50')}" size="8">${fieldError(errors, `rates.${c}`)}</td><td><input name="cap_${c}" aria-label="${categoryNames[c]} 每套封顶（元）" inputmode="decimal" value="${value(`cap_${c}`, current?.licence_caps[c])}" size="10">${fieldError(errors, `licence_caps.${c}`)}</td></tr>`)}
</tbody></table>
<label>单位奖励上限（元，可空） <input name="department_ceiling" value="${value('department_ceiling', current?.department_ceiling)}"></label>${fieldError(errors, 'department_ceiling')}
<label><input type="checkbox" name="require_completed" value="1" ${(b.require_completed ?? (current?.require_completed === false ? '' : '1')) ? 'checked' : ''}> 仅已完成并验收的单位参与分配</label>
<p><button>发布新版本</button></p></form>`
    : ''
}
<h2>历史版本</h2><ul>${versions.items.map((v) => html`<li>第 ${v.version} 版：${categories.map((c) => `${categoryNames[c]} ${v.rates[c]}${v.licence_caps[c] ? `（封顶 ${v.licence_caps[c]}）` : ''}`).join('，')}</li>`)}</ul>${nextPage(versions.next_cursor)}`,
      ),
    );
  }

  async function runsPage(req: Request, res: Response, errors: FormErrors = noErrors) {
    authorize(req.actor, 'allocation.read');
    const fund = await getFund(db, idFrom(req));
    const runs = await listRuns(db, fund.id, { limit: 100, cursor: cursorFrom(req) });
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `${fund.name} · 分配批次`,
        html`${fundTabs(fund.id, req)}
${allows(req.actor!.role, 'allocation.run') ? html`<form method="post" action="/funds/${fund.id}/runs">${csrfField(req)}${generalError(errors)}<label>计算截至 <input type="date" name="as_of" value="${formFields(req).as_of ?? todayInShanghai()}"></label>${fieldError(errors, 'as_of')}<button>计算分配方案</button></form>` : ''}
<table><thead><tr><th>批次</th><th>截至</th><th>状态</th><th class="num">本批分配</th><th class="num">收回</th><th>计算人</th><th>审批人</th></tr></thead><tbody>
${runs.items.map((r) => html`<tr><td><a href="/runs/${r.id}">第 ${r.id} 批</a></td><td>${day(r.as_of)}</td><td class="run-status">${runStatusNames[r.status] ?? r.status}</td><td class="num">${yuan(r.total)}</td><td class="num">${yuan(r.clawed_back)}</td><td>${r.created_by_name ?? ''}</td><td>${r.approved_by_name ?? ''}</td></tr>`)}
</tbody></table>${nextPage(runs.next_cursor)}`,
      ),
    );
  }

  async function runPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'allocation.read');
    const run = await getRun(db, idFrom(req));
    const fund = await getFund(db, run.fund_id);
    const mine = run.created_by === req.actor!.id;
    res.status(errors === noErrors ? 200 : 409).send(
      page(
        req,
        `第 ${run.id} 批分配方案`,
        html`${fundTabs(fund.id, req)}
<p>${fund.name} · 截至 ${day(run.as_of)} · 状态 <b class="run-status">${runStatusNames[run.status] ?? run.status}</b> · 可分配 ${yuan(run.available)} 元 · 本批 ${yuan(run.total)} 元 · 收回 ${yuan(run.clawed_back)} 元${run.factor !== '1' ? ` · 按比例 ${run.factor.slice(0, 10)}` : ''}</p>
<p>计算人：${run.created_by_name ?? '—'}${run.approved_by_name ? ` · 审批人：${run.approved_by_name}` : ''}</p>
${run.status === 'superseded' && run.superseded_by ? html`<p class="warning">本方案已被 <a href="/runs/${run.superseded_by}">第 ${run.superseded_by} 批</a>取代，不能审批。</p>` : ''}
${run.status === 'stale' ? html`<p class="warning">计算本方案之后，发票、单位状态、分配政策或资金余额已有变化，本方案不能审批；请重新计算。</p>` : ''}
${generalError(errors)}
${
  (run.status === 'draft' || run.status === 'stale') && allows(req.actor!.role, 'allocation.run')
    ? html`<p>${run.status === 'stale' ? '' : mine ? html`<span class="muted">本方案由您计算，须由另一名会计审批。</span>` : html`<form method="post" action="/runs/${run.id}/approve" class="inline">${csrfField(req)}<button>审批并记账</button></form>`}
<form method="post" action="/runs/${run.id}/cancel" class="inline">${csrfField(req)}<button class="secondary">取消</button></form></p>`
    : ''
}
${run.status === 'approved' && allows(req.actor!.role, 'disbursements.write') ? html`<form method="post" action="/runs/${run.id}/disbursements">${csrfField(req)}<label>拨付日期 <input type="date" name="date" value="${todayInShanghai()}"></label><button>为本批各单位生成待审批拨付</button></form>` : ''}
<table><thead><tr><th>单位</th><th class="num">核定奖励</th><th class="num">已分配</th><th class="num">应分配</th><th class="num">本次分配</th><th class="num">收回</th><th class="num">应收回</th><th>计算依据</th></tr></thead><tbody>
${run.lines.map((l) => html`<tr><td>${l.department_name}（${l.department_code}）</td><td class="num">${yuan(l.entitlement)}</td><td class="num">${yuan(l.previously_allocated)}</td><td class="num">${yuan(l.due)}</td><td class="num">${yuan(l.amount)}</td><td class="num">${yuan(l.clawback)}</td><td class="num">${yuan(l.to_recover)}</td><td>${explain(l.explanation as Parameters<typeof explain>[0])}</td></tr>`)}
</tbody></table>
<h2>未参与本批分配的单位（${run.excluded.length}）</h2>
${
  run.excluded.length
    ? html`<table class="excluded"><thead><tr><th>单位</th><th>原因</th></tr></thead><tbody>
${run.excluded.map((x) => html`<tr><td>${x.department_name ?? ''}（${x.department_code}）</td><td>${exclusionNames[x.reason] ?? x.reason}${x.reason === 'not_accepted' ? html` · <a href="/departments/acceptance">记录验收</a>` : ''}</td></tr>`)}
</tbody></table>`
    : html`<p class="muted">没有。</p>`
}`,
        { notice },
      ),
    );
  }

  async function paymentsPage(req: Request, res: Response, fundId: string, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'disbursements.read');
    const fund = await getFund(db, fundId);
    const q = req.query as Record<string, string | undefined>;
    const cursor = /^[0-9]+$/.test(q.cursor ?? '') ? q.cursor : undefined;
    const listed = await listDisbursements(db, fund.id, { limit: 200, cursor });
    const payments = listed.items;
    const positions = await fundPositions(db, fund.id);
    const b = formFields(req);
    const canWrite = allows(req.actor!.role, 'disbursements.write');
    const unitSelect = html`<select name="department_id">${positions.map((p) => html`<option value="${p.department_id}" ${b.department_id === p.department_id ? 'selected' : ''}>${p.department_name}（应付 ${yuan(p.payable)}）</option>`)}</select>`;
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `${fund.name} · 拨付`,
        html`${fundTabs(fund.id, req)}
<h2>各单位</h2><table><thead><tr><th>单位</th><th class="num">核定奖励</th><th class="num">已分配</th><th class="num">已拨付</th><th class="num">应付未付</th><th class="num">应收回</th></tr></thead><tbody>
${positions.map((p) => html`<tr><td>${p.department_name}（${p.department_code}）</td><td class="num">${yuan(p.entitlement)}</td><td class="num">${yuan(p.allocated)}</td><td class="num">${yuan(p.paid)}</td><td class="num">${yuan(p.payable)}</td><td class="num">${yuan(p.to_recover)}</td></tr>`)}
</tbody></table>
${
  canWrite
    ? html`<h2>新建拨付</h2><form method="post" action="/funds/${fund.id}/payments">${csrfField(req)}${generalError(errors)}
<label>单位 ${unitSelect}</label>${fieldError(errors, 'department_id')}
<label>金额（元） <input name="amount" value="${b.amount ?? ''}" inputmode="decimal" required></label>${fieldError(errors, 'amount')}
<label>凭证号 <input name="voucher_no" value="${b.voucher_no ?? ''}" required></label>${fieldError(errors, 'voucher_no')}
<label>日期 <input type="date" name="date" value="${b.date ?? todayInShanghai()}" required></label>${fieldError(errors, 'date')}
<p><button name="kind" value="payment">提交拨付（待审批）</button> <button name="kind" value="refund" class="secondary">登记单位退回</button></p></form>`
    : ''
}
<h2>拨付记录</h2>${canWrite ? html`<form method="post" action="/funds/${fund.id}/payments/bulk-approve" id="bulk-approve">${csrfField(req)}<button>审批勾选的拨付（全部记账或全部不记账）</button></form>` : ''}
<table class="payments"><thead><tr><th></th><th>凭证号</th><th>日期</th><th>单位</th><th>类型</th><th class="num">金额</th><th>状态</th><th>制单</th><th>审批</th><th></th></tr></thead><tbody>
${payments.map(
  (
    p,
  ) => html`<tr><td>${canWrite && p.status === 'pending' && p.created_by !== req.actor!.id ? html`<input type="checkbox" name="ids" value="${p.id}" form="bulk-approve" aria-label="选择 ${p.voucher_no}">` : ''}</td><td>${p.voucher_no}</td><td>${day(p.date)}</td><td>${p.department_name ?? ''}（${p.department_code ?? ''}）</td><td>${p.kind === 'refund' ? '退回' : '拨付'}</td><td class="num">${yuan(p.amount)}</td><td>${{ pending: '待审批', approved: '已记账', cancelled: '已取消' }[p.status]}</td><td>${p.created_by_name ?? ''}</td><td>${p.approved_by_name ?? ''}</td>
<td>${canWrite && p.status === 'pending' ? html`${p.created_by === req.actor!.id ? html`<span class="muted">待另一名会计审批</span>` : html`<form method="post" action="/payments/${p.id}/approve" class="inline">${csrfField(req)}<button>审批</button></form>`} <form method="post" action="/payments/${p.id}/cancel" class="inline">${csrfField(req)}<button class="secondary">取消</button></form>` : ''}</td></tr>`,
)}
</tbody></table>${listed.next_cursor ? html`<p><a href="?cursor=${listed.next_cursor}" rel="next">更多（下一页）</a></p>` : ''}`,
        { notice },
      ),
    );
  }

  return {
    policy: (req: Request, res: Response) => policyPage(req, res),
    async savePolicy(req: Request, res: Response) {
      authorize(req.actor, 'allocation.policy');
      const b = formFields(req);
      try {
        const problems: FieldError[] = [];
        const rates = {} as Record<(typeof categories)[number], Decimal>;
        const caps = {} as Record<(typeof categories)[number], Decimal | null>;
        for (const c of categories) {
          const r = (b[`rate_${c}`] ?? '').trim();
          if (!rateRule.test(r)) problems.push({ field: `rates.${c}`, message: '比例须为 0 到 1 之间、最多四位小数，如 0.50' });
          else rates[c] = new Decimal(r);
          const cap = (b[`cap_${c}`] ?? '').trim();
          const parsed = money.safeParse(cap);
          if (cap && !parsed.success) problems.push({ field: `licence_caps.${c}`, message: '封顶金额须为数字，最多两位小数' });
          caps[c] = cap && parsed.success ? parsed.data : null;
        }
        const ceilingText = (b.department_ceiling ?? '').trim();
        const ceiling = money.safeParse(ceilingText);
        if (ceilingText && !ceiling.success) problems.push({ field: 'department_ceiling', message: '上限须为数字，最多两位小数' });
        if (problems.length) fail(problems);
        await setPolicy(db, contextOf(req), idFrom(req), {
          rates,
          licence_caps: caps,
          department_ceiling: ceilingText && ceiling.success ? ceiling.data : null,
          require_completed: b.require_completed === '1',
        });
        res.redirect(303, `/funds/${idFrom(req)}/policy`);
      } catch (e) {
        await policyPage(req, res, formErrors(e));
      }
    },
    runs: (req: Request, res: Response) => runsPage(req, res),
    async createRun(req: Request, res: Response) {
      authorize(req.actor, 'allocation.run');
      try {
        const asOf = formFields(req).as_of;
        if (!calendarDate.safeParse(asOf).success) fail([{ field: 'as_of', message: '请填写有效日期' }]);
        const run = await inTransaction(db, (trx) => createRun(trx, contextOf(req), idFrom(req), asOf));
        res.redirect(303, `/runs/${run.id}`);
      } catch (e) {
        await runsPage(req, res, formErrors(e));
      }
    },
    run: (req: Request, res: Response) => runPage(req, res),
    async decideRun(req: Request, res: Response) {
      authorize(req.actor, 'allocation.run');
      const approve = req.path.endsWith('/approve');
      try {
        if (approve) await approveRun(db, contextOf(req), idFrom(req));
        else await cancelRun(db, contextOf(req), idFrom(req));
        await runPage(req, res, noErrors, approve ? '已审批，分配已记账。' : '已取消。');
      } catch (e) {
        await runPage(req, res, formErrors(e));
      }
    },
    payments: (req: Request, res: Response) => paymentsPage(req, res, idFrom(req)),
    async createPayment(req: Request, res: Response) {
      authorize(req.actor, 'disbursements.write');
      try {
        const input = paymentInput(formFields(req));
        if (formFields(req).kind === 'refund') await prepareRefund(db, contextOf(req), idFrom(req), input);
        else await createDisbursement(db, contextOf(req), idFrom(req), input);
        res.redirect(303, `/funds/${idFrom(req)}/payments`);
      } catch (e) {
        await paymentsPage(req, res, idFrom(req), formErrors(e));
      }
    },
    async approvePayments(req: Request, res: Response) {
      authorize(req.actor, 'disbursements.write');
      const fundId = idFrom(req);
      const raw = (req.body ?? {}) as Record<string, string | string[]>;
      const ids = (Array.isArray(raw.ids) ? raw.ids : raw.ids ? [raw.ids] : []).filter((x) => /^[1-9][0-9]{0,17}$/.test(x));
      try {
        if (ids.length === 0) fail([{ field: 'ids', message: '请勾选要审批的拨付' }]);
        const { items } = await approveDisbursements(db, contextOf(req), ids);
        await paymentsPage(req, res, fundId, noErrors, `已审批 ${items.length} 笔拨付，均已记账。`);
      } catch (e) {
        await paymentsPage(req, res, fundId, formErrors(e));
      }
    },
    async prepareRunPayments(req: Request, res: Response) {
      authorize(req.actor, 'disbursements.write');
      const runId = idFrom(req);
      try {
        const date = formFields(req).date;
        if (!calendarDate.safeParse(date).success) fail([{ field: 'date', message: '请填写有效日期' }]);
        const run = await getRun(db, runId);
        const { items } = await prepareRunDisbursements(db, contextOf(req), runId, date!);
        await paymentsPage(req, res, run.fund_id, noErrors, `已为第 ${runId} 批生成 ${items.length} 笔待审批拨付。`);
      } catch (e) {
        await runPage(req, res, formErrors(e));
      }
    },
    async decidePayment(req: Request, res: Response) {
      authorize(req.actor, 'disbursements.write');
      const paymentId = idFrom(req);
      const payment = await db('disbursements').where({ id: paymentId }).first('fund_id');
      if (!payment) throw new AppError('NOT_FOUND', '没有这笔拨付');
      const fundId = String(payment.fund_id);
      const approve = req.path.endsWith('/approve');
      try {
        if (approve) await approveDisbursement(db, contextOf(req), paymentId);
        else await cancelDisbursement(db, contextOf(req), paymentId);
        await paymentsPage(req, res, fundId, noErrors, approve ? '已审批，拨付已记账。' : '已取消。');
      } catch (e) {
        await paymentsPage(req, res, fundId, formErrors(e));
      }
    },
  };
}
