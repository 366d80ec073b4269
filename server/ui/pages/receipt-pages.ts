import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { allows, authorize } from '../../auth/policy.ts';
import type { Config } from '../../config.ts';
import { AppError, validationError } from '../../errors.ts';
import { receiptLicenceWarnings } from '../../assets/compliance.ts';
import { licenceKindNames } from '../../../reports/format.ts';
import { attachScan } from '../../files/attach-scan.ts';
import { contextOf } from '../../http/context.ts';
import { receiptBody } from '../../receipts/receipt-rules.ts';
import { getReceipt, listReceipts, submitReceipt } from '../../receipts/receipts.ts';
import { reviewReceipt } from '../../receipts/review.ts';
import { fromZod } from '../../http/problem.ts';
import { amountInWords } from '../../../reports/amount-in-words.ts';
import { categoryNames, day, html, moment, receiptStatusNames, yuan } from '../html.ts';
import { csrfField, fieldError, formErrors, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';

const body = (req: Request) => (req.body ?? {}) as Record<string, string | string[]>;
const list = (v: string | string[] | undefined) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim() ?? '';

/** The receipt form's fields as the API's body: empty line rows are left out. */
export function receiptFromForm(b: Record<string, string | string[]>) {
  const products = list(b.line_product);
  const lines = products
    .map((product, i) => ({
      product: product.trim(),
      category: list(b.line_category)[i] ?? '',
      licences: list(b.line_licences)[i]?.trim() ?? '',
      amount: list(b.line_amount)[i]?.trim() ?? '',
      licence_kind: list(b.line_licence_kind)[i] || undefined,
    }))
    .filter((l) => l.product || l.amount || l.licences)
    .map(({ licence_kind, ...l }) => ({
      ...l,
      licences: /^[0-9]+$/.test(l.licences) ? Number(l.licences) : l.licences,
      ...(licence_kind ? { licence_kind } : {}),
    }));
  const code = one(b.invoice_code);
  const override = one(b.seller_tax_id_override);
  const reason = one(b.tax_id_override_reason);
  const supersedes = one(b.supersedes_id);
  const tax = one(b.tax_amount);
  const withTax = one(b.total_with_tax);
  const buyer = one(b.buyer_name);
  return {
    ...(supersedes ? { supersedes_id: supersedes } : {}),
    ...(reason ? { tax_id_override_reason: reason } : {}),
    fund_id: one(b.fund_id),
    invoice_kind: one(b.invoice_kind),
    ...(code ? { invoice_code: code } : {}),
    invoice_number: one(b.invoice_number),
    issue_date: one(b.issue_date),
    seller_name: one(b.seller_name),
    seller_tax_id: one(b.seller_tax_id),
    ...(override ? { seller_tax_id_override: override } : {}),
    ...(buyer ? { buyer_name: buyer } : {}),
    lines,
    total: one(b.total),
    ...(tax ? { tax_amount: tax } : {}),
    ...(withTax ? { total_with_tax: withTax } : {}),
  };
}

export function receiptForm(
  req: Request,
  departmentId: string,
  buyerDefault: string,
  funds: Array<{ id: string; name: string }>,
  errors: FormErrors,
): ReturnType<typeof html> {
  const b = body(req);
  const rows = Math.max(3, list(b.line_product).length);
  const lineError = Object.entries(errors.fields)
    .filter(([k]) => k.startsWith('lines'))
    .map(([k, v]) => `${k.replace(/^lines\.?/, '第').replace(/^第(\d+)\./, (_m, n) => `第 ${Number(n) + 1} 行 `)} ${v}`)
    .join('；');
  const supersedes = one(b.supersedes_id);
  const line = (i: number) => {
    const n = i + 1;
    return html`<tr class="line"><td><input name="line_product" value="${list(b.line_product)[i] ?? ''}" size="28" aria-label="第 ${n} 行 软件名称"></td>
<td><select name="line_category" aria-label="第 ${n} 行 类别">${Object.entries(categoryNames).map(([k, v]) => html`<option value="${k}" ${list(b.line_category)[i] === k ? 'selected' : ''}>${v}</option>`)}</select></td>
<td><select name="line_licence_kind" aria-label="第 ${n} 行 授权方式">${Object.entries(licenceKindNames).map(([k, v]) => html`<option value="${k}" ${(list(b.line_licence_kind)[i] ?? 'retail') === k ? 'selected' : ''}>${v}</option>`)}</select></td>
<td class="num"><input name="line_licences" value="${list(b.line_licences)[i] ?? ''}" size="5" inputmode="numeric" aria-label="第 ${n} 行 套数"></td><td class="num"><input name="line_amount" value="${list(b.line_amount)[i] ?? ''}" size="14" inputmode="decimal" aria-label="第 ${n} 行 金额（元）"></td></tr>`;
  };
  return html`<form method="post" action="/departments/${departmentId}/receipts" class="receipt" novalidate>${csrfField(req)}${generalError(errors)}
${supersedes ? html`<input type="hidden" name="supersedes_id" value="${supersedes}"><p class="notice">更正第 ${supersedes} 号发票：提交后，新发票将注明它更正的是哪一张。</p>` : ''}${fieldError(errors, 'supersedes_id')}
<label>资金 <select name="fund_id">${funds.map((f) => html`<option value="${f.id}" ${one(b.fund_id) === f.id ? 'selected' : ''}>${f.name}</option>`)}</select></label>${fieldError(errors, 'fund_id')}
<label>发票种类 <select name="invoice_kind">${Object.entries({ vat_special: '增值税专用发票', vat_ordinary: '增值税普通发票', digital: '数电票', general: '普通发票' }).map(([k, v]) => html`<option value="${k}" ${one(b.invoice_kind) === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label>发票代码（数电票不填） <input name="invoice_code" value="${one(b.invoice_code)}" inputmode="numeric"></label><span data-field="invoice_code"></span>${fieldError(errors, 'invoice_code')}
<label>发票号码 <input name="invoice_number" value="${one(b.invoice_number)}" required inputmode="numeric"></label><span data-field="invoice_number"></span>${fieldError(errors, 'invoice_number')}
<label>开票日期 <input name="issue_date" type="date" value="${one(b.issue_date)}" required></label>${fieldError(errors, 'issue_date')}
<label>购买方名称 <input name="buyer_name" value="${b.buyer_name === undefined ? buyerDefault : one(b.buyer_name)}" size="40"></label>${fieldError(errors, 'buyer_name')}
<label>销售方名称 <input name="seller_name" value="${one(b.seller_name)}" required size="40"></label>${fieldError(errors, 'seller_name')}
<label>销售方纳税人识别号（统一社会信用代码） <input name="seller_tax_id" value="${one(b.seller_tax_id)}" required size="22"></label>${fieldError(errors, 'seller_tax_id')}
<label>校验位不符的理由（核对发票原件确认代码无误时填写，由会计审核时确认） <input name="tax_id_override_reason" value="${one(b.tax_id_override_reason)}" size="40"></label>${fieldError(errors, 'tax_id_override_reason')}
${allows(req.actor!.role, 'receipts.review') ? html`<label>校验位不符时的确认理由（仅会计） <input name="seller_tax_id_override" value="${one(b.seller_tax_id_override)}" size="40"></label>${fieldError(errors, 'seller_tax_id_override')}` : ''}
<table><caption>软件明细（按发票“金额”栏逐行填写，可输入 12,450,000.00 这样带分隔符的金额）</caption><thead><tr><th scope="col">软件</th><th scope="col">类别</th><th scope="col">授权方式</th><th scope="col" class="num">套数</th><th scope="col" class="num">金额（元）</th></tr></thead><tbody class="lines">
${Array.from({ length: rows }, (_, i) => line(i))}
</tbody></table><button type="button" class="secondary" data-add-line>增加一行</button><span data-field="lines"></span>${lineError ? html`<span class="field-error" role="alert">${lineError}</span>` : ''}
<div class="receipt-figures">
<label>金额合计（元） <input name="total" value="${one(b.total)}" required inputmode="decimal" data-sum-of="line_amount"></label><span data-field="total"></span>${fieldError(errors, 'total')}
<label>税额（元，无税额填 0） <input name="tax_amount" value="${one(b.tax_amount)}" inputmode="decimal"></label><span data-field="tax_amount"></span>${fieldError(errors, 'tax_amount')}
<label>价税合计（元，与发票上的小写金额核对） <input name="total_with_tax" value="${one(b.total_with_tax)}" inputmode="decimal" data-with-tax></label><span data-field="total_with_tax"></span>${fieldError(errors, 'total_with_tax')}
<p class="muted" aria-live="polite" data-figures-note>金额合计与价税合计随明细和税额自动计算，提交时系统再次核对。</p>
</div>
<p><button>提交发票</button> <span class="muted">提交后可上传发票扫描件。</span></p></form>`;
}

/** What an accountant should know before rejecting a verified receipt that a run already used. */
async function allocatedWarning(db: Knex, receiptId: string): Promise<string | null> {
  const used = await db('allocation_lines as l')
    .join('allocation_runs as a', 'a.id', 'l.run_id')
    .where('a.status', 'approved')
    .where('l.explanation', '@>', JSON.stringify({ receipts: [receiptId] }))
    .first('a.id');
  return used ? `注意：这张发票已计入第 ${used.id} 批已审批的分配。如退回，下一次分配将收回该单位未拨付的奖励，已拨付的部分须由单位退回。` : null;
}

export function receiptPages(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  async function detail(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'receipts.read');
    const r = await getReceipt(db, req.actor!, idFrom(req));
    const role = req.actor!.role;
    const uploadAction = `/receipts/${r.id}/attachments`;
    const allocationWarning = role === 'accountant' && r.status === 'verified' ? await allocatedWarning(db, r.id) : null;
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `发票 ${r.invoice_code ? `${r.invoice_code}-` : ''}${r.invoice_number}`,
        html`
<p>单位：${r.department_name}（${r.department_code}）· 状态：<b>${receiptStatusNames[r.status]}</b>${r.status_reason ? html` · 理由：${r.status_reason}` : ''}</p>
${r.supersedes_id ? html`<p class="supersedes">本发票更正 <a href="/receipts/${r.supersedes_id}">第 ${r.supersedes_id} 号发票</a>。</p>` : ''}
${r.superseded_by ? html`<p class="superseded-by">本发票已由 <a href="/receipts/${r.superseded_by}">第 ${r.superseded_by} 号发票</a>更正（${receiptStatusNames[r.superseded_by_status ?? ''] ?? ''}）。</p>` : ''}
${r.tax_id_override_reason ? html`<p class="tax-id-request">单位申请使用校验位不符的销售方代码 ${r.seller_tax_id}，理由：“${r.tax_id_override_reason}”。${r.tax_id_confirmed_by_name ? html`已由 ${r.tax_id_confirmed_by_name} 确认。` : html`<b>待会计确认。</b>`}</p>` : ''}
${allocationWarning ? html`<p class="warning" role="note">${allocationWarning}</p>` : ''}
${generalError(errors)}${allows(role, 'receipts.review') ? (await receiptLicenceWarnings(db, r)).map((w) => html`<p class="error" role="alert">提示：${w.message}</p>`) : ''}
<table><tbody>
<tr><th>开票日期</th><td>${day(r.issue_date)}</td><th>销售方</th><td>${r.seller_name}（${r.seller_tax_id}）${r.seller_tax_id_override ? html`<br><span class="muted">校验位不符，会计确认：${r.seller_tax_id_override}</span>` : ''}</td></tr>
<tr><th>购买方</th><td>${r.buyer_name ?? '—'}${r.buyer_name && r.buyer_name !== r.department_name ? html`<br><span class="warning">与申报单位名称“${r.department_name}”不一致，请核对发票</span>` : ''}</td><th>提交时间</th><td>${moment(r.submitted_at)}</td></tr>
<tr><th>金额合计</th><td class="num">${yuan(r.total)}</td><th>税额</th><td class="num">${yuan(r.tax_amount)}</td></tr>
<tr><th>价税合计</th><td class="num">${yuan(r.total_with_tax)}</td><th>大写</th><td>${amountInWords(r.total_with_tax)}</td></tr></tbody></table>
<h2>明细</h2><table><thead><tr><th>#</th><th>软件</th><th>类别</th><th>授权方式</th><th class="num">套数</th><th class="num">金额</th></tr></thead><tbody>
${r.lines.map((l) => html`<tr><td>${l.line_no}</td><td>${l.product}</td><td>${categoryNames[l.category]}</td><td>${licenceKindNames[l.licence_kind] ?? l.licence_kind}</td><td class="num">${l.licences}</td><td class="num">${yuan(l.amount)}</td></tr>`)}</tbody></table>
<h2>扫描件</h2>
${r.attachments.length ? r.attachments.map((a) => html`<p>${a.file_name}（${a.media_type}，${a.size} 字节）${a.active_content ? html` <b class="error">含可执行内容，请勿直接打开</b>` : ''} <a href="/api/v1/attachments/${a.id}">下载</a></p>${a.media_type.startsWith('image/') ? html`<img class="scan" alt="${a.file_name}" src="/api/v1/attachments/${a.id}?inline=1">` : ''}`) : html`<p class="muted">尚无扫描件。</p>`}
${allows(role, 'attachments.upload') && r.status === 'submitted' ? html`<form method="post" action="${uploadAction}" enctype="multipart/form-data">${csrfField(req)}<label>上传扫描件（PDF、JPEG、PNG，可多选） <input type="file" name="file" accept="application/pdf,image/jpeg,image/png" multiple required></label>${fieldError(errors, 'file')}<button>上传</button></form>` : ''}
${
  allows(role, 'receipts.review') && (r.status === 'submitted' || r.status === 'verified')
    ? html`<h2>审核</h2>
${r.status === 'submitted' ? html`<form method="post" action="/receipts/${r.id}/verify" class="inline">${csrfField(req)}${r.tax_id_override_reason ? html`<label><input type="checkbox" name="confirm_tax_id" value="1"> 确认销售方代码 ${r.seller_tax_id} 无误</label>` : ''}<button>审核通过</button></form>` : ''}
<form method="post" action="/receipts/${r.id}/reject">${csrfField(req)}<label>退回理由 <input name="reason" size="40"></label>${fieldError(errors, 'reason')}<button class="secondary">退回</button></form>`
    : ''
}
${allows(role, 'receipts.withdraw') && r.status === 'submitted' ? html`<form method="post" action="/receipts/${r.id}/withdraw">${csrfField(req)}<button class="secondary">撤回</button></form>` : ''}
${role === 'department' && (r.status === 'rejected' || r.status === 'withdrawn') && !(r.superseded_by && ['submitted', 'verified'].includes(r.superseded_by_status ?? '')) ? html`<p><a class="button" href="/receipts/${r.id}/resubmit">更正后重新提交</a></p>` : ''}
<h2>记录</h2><ul>${r.history.map((h) => html`<li>${moment(h.at)}：${h.from ? `${receiptStatusNames[h.from]} → ` : ''}${receiptStatusNames[h.to]}${h.reason ? `（${h.reason}）` : ''}${h.actor_name ? ` · ${h.actor_name}` : ''}</li>`)}</ul>`,
        { notice },
      ),
    );
  }

  return {
    async list(req: Request, res: Response) {
      authorize(req.actor, 'receipts.read');
      const q = req.query as Record<string, string | undefined>;
      const status =
        q.status && ['submitted', 'verified', 'rejected', 'withdrawn'].includes(q.status)
          ? q.status
          : q.status === 'all'
            ? undefined
            : req.actor!.role === 'accountant'
              ? 'submitted'
              : undefined;
      const fundId = /^[0-9]+$/.test(q.fund_id ?? '') ? q.fund_id : undefined;
      const search = q.q?.trim().slice(0, 200) || undefined;
      const cursor = /^[0-9]+$/.test(q.cursor ?? '') ? q.cursor : undefined;
      const found = await listReceipts(db, req.actor!, { limit: 100, status, fund_id: fundId, q: search, cursor });
      const keep = (extra: Record<string, string>) =>
        new URLSearchParams({ ...(status ? { status } : {}), ...(fundId ? { fund_id: fundId } : {}), ...(search ? { q: search } : {}), ...extra }).toString();
      res.send(
        page(
          req,
          '发票',
          html`<nav class="filters" aria-label="按状态筛选"><p>${['submitted', 'verified', 'rejected', 'withdrawn'].map((s, i) => html`${i ? ' · ' : ''}<a href="?status=${s}${fundId ? `&fund_id=${fundId}` : ''}"${s === status ? html` aria-current="true"` : ''}>${receiptStatusNames[s]}</a>`)}${status ? html` · <a href="?status=all${fundId ? `&fund_id=${fundId}` : ''}">全部</a>` : html` · <b aria-current="true">全部</b>`}</p></nav>
<form method="get" class="filters"><input type="hidden" name="status" value="${status ?? 'all'}"><label>查找（单位代码、名称或发票号码） <input name="q" value="${search ?? ''}"></label> <button>查找</button></form>
<table data-empty="没有${status ? receiptStatusNames[status] : ''}的发票${search ? `（查找“${search}”）` : ''}。"><thead><tr><th>发票</th><th>单位</th><th>开票日期</th><th>销售方</th><th class="num">价税合计</th><th>状态</th></tr></thead><tbody>
${found.items.map((r) => html`<tr><td class="invoice-no"><a href="/receipts/${r.id}">${r.invoice_code ? `${r.invoice_code}-` : ''}${r.invoice_number}</a></td><td>${r.department_name}</td><td>${day(r.issue_date)}</td><td>${r.seller_name}</td><td class="num">${yuan(r.total_with_tax)}</td><td>${receiptStatusNames[r.status]}</td></tr>`)}
</tbody></table>
${found.next_cursor ? html`<p><a href="?${keep({ cursor: found.next_cursor })}" rel="next" class="more">更多（下一页）</a></p>` : ''}`,
        ),
      );
    },
    detail: (req: Request, res: Response) => detail(req, res),
    /** The receipt form filled in from a rejected or withdrawn receipt, to correct and submit again. */
    async resubmit(req: Request, res: Response) {
      authorize(req.actor, 'receipts.submit');
      // The correction form lives on the unit's own page, where its errors are shown again.
      if (req.actor!.role !== 'department') throw new AppError('NOT_FOUND', '此页面供单位用户使用');
      const r = await getReceipt(db, req.actor!, idFrom(req));
      if (r.status !== 'rejected' && r.status !== 'withdrawn') throw new AppError('CONFLICT', '只有已退回或已撤回的发票可以更正后重新提交');
      req.body = {
        supersedes_id: r.id,
        fund_id: r.fund_id,
        invoice_kind: r.invoice_kind,
        invoice_code: r.invoice_code ?? '',
        invoice_number: r.invoice_number,
        issue_date: r.issue_date,
        seller_name: r.seller_name,
        seller_tax_id: r.seller_tax_id,
        tax_id_override_reason: r.tax_id_override_reason ?? '',
        line_product: r.lines.map((l) => l.product),
        line_category: r.lines.map((l) => l.category),
        line_licences: r.lines.map((l) => String(l.licences)),
        line_amount: r.lines.map((l) => l.amount),
        total: r.total,
        tax_amount: r.tax_amount,
        total_with_tax: r.total_with_tax,
        buyer_name: r.buyer_name ?? r.department_name,
      };
      const funds = await db('funds').where({ id: r.fund_id }).select('id', 'name');
      res.send(
        page(
          req,
          `更正第 ${r.id} 号发票`,
          html`<p>原发票${receiptStatusNames[r.status]}${r.status_reason ? html`，理由：${r.status_reason}` : ''}。请按发票原件更正后提交。</p>
${receiptForm(
  req,
  r.department_id,
  r.buyer_name ?? r.department_name,
  funds.map((f) => ({ id: String(f.id), name: String(f.name) })),
  noErrors,
)}`,
        ),
      );
    },
    async review(req: Request, res: Response) {
      const decision = req.path.endsWith('/verify') ? 'verified' : req.path.endsWith('/reject') ? 'rejected' : 'withdrawn';
      authorize(req.actor, decision === 'withdrawn' ? 'receipts.withdraw' : 'receipts.review');
      const reason = one(body(req).reason);
      try {
        if (decision === 'rejected' && !reason) throw validationError('reason', '请填写退回理由');
        const after = await reviewReceipt(db, contextOf(req), idFrom(req), decision, decision === 'rejected' ? reason : undefined, {
          confirmTaxId: one(body(req).confirm_tax_id) === '1',
        });
        const warning = 'warning' in after ? ` ${String(after.warning)}` : '';
        await detail(req, res, noErrors, decision === 'verified' ? '已审核通过。' : decision === 'rejected' ? `已退回。${warning}` : '已撤回。');
      } catch (e) {
        await detail(req, res, formErrors(e));
      }
    },
    async upload(req: Request, res: Response) {
      authorize(req.actor, 'attachments.upload');
      const receiptId = idFrom(req);
      try {
        await attachScan(db, contextOf(req), req, config, { receiptId });
        res.redirect(303, `/receipts/${receiptId}`);
      } catch (e) {
        const errors = formErrors(e);
        await detail(req, res, { general: errors.general, fields: { file: errors.general ?? '上传失败', ...errors.fields } });
      }
    },
    async submit(req: Request, res: Response, rerender: (errors: FormErrors) => Promise<void>) {
      authorize(req.actor, 'receipts.submit');
      const departmentId = idFrom(req);
      const parsed = receiptBody.safeParse(receiptFromForm(body(req)));
      try {
        if (!parsed.success) throw fromZod(parsed.error, 'body');
        const { fund_id, supersedes_id, tax_id_override_reason, ...content } = parsed.data;
        const receipt = await submitReceipt(db, contextOf(req), departmentId, fund_id, content, { supersedes_id, tax_id_override_reason });
        res.redirect(303, `/receipts/${receipt.id}`);
      } catch (e) {
        await rerender(formErrors(e));
      }
    },
  };
}
