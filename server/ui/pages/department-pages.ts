import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { departmentPosition } from '../../allocation/positions.ts';
import { authorize } from '../../auth/policy.ts';
import { changeStatus, statusHistory, statusRank, type DepartmentStatus } from '../../departments/status.ts';
import { getDepartment } from '../../departments/departments.ts';
import { AppError, validationError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { calendarDate, todayInShanghai } from '../../http/schemas.ts';
import { listFunds } from '../../ledger/funds.ts';
import { currentDeadline } from '../../progress/progress.ts';
import { fileWrittenReport, listWrittenReports } from '../../progress/written-reports.ts';
import { queueSections } from './work-pages.ts';
import type { Config } from '../../config.ts';
import { attachScan } from '../../files/attach-scan.ts';
import { listReceipts } from '../../receipts/receipts.ts';
import { day, html, moment, receiptStatusNames, statusNames, yuan } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';
import { receiptForm } from './receipt-pages.ts';

/** The unit's own page: status and history, written report, receipts, allocations, payments, statements. */
export function departmentPages(db: Knex, config: Pick<Config, 'dataDir' | 'uploadMaxBytes'>) {
  async function my(req: Request, res: Response, errors: { status?: FormErrors; report?: FormErrors; receipt?: FormErrors } = {}, notice?: string) {
    authorize(req.actor, 'departments.read');
    const actor = req.actor!;
    if (actor.role !== 'department') throw new AppError('NOT_FOUND', '此页面供单位用户使用');
    const d = await getDepartment(db, actor, actor.departmentId!);
    const history = (await statusHistory(db, actor, d.id)).items;
    const reports = (await listWrittenReports(db, actor, d.id)).items;
    const reportFiles = new Map<string, Array<{ id: string; file_name: string }>>();
    for (const f of await db('attachments')
      .whereIn(
        'written_report_id',
        reports.map((r) => r.id),
      )
      .orderBy('id')
      .select('id', 'written_report_id', 'file_name')) {
      const list = reportFiles.get(String(f.written_report_id)) ?? [];
      list.push({ id: String(f.id), file_name: f.file_name });
      reportFiles.set(String(f.written_report_id), list);
    }
    const receipts = (await listReceipts(db, actor, { limit: 100 })).items;
    // Funds are the finance bureau's; a unit sees the ones it can claim against and its position in each.
    const funds = (await listFunds(db, 50)).items.map((f) => ({ id: f.id, name: f.name }));
    const positions = await Promise.all(funds.map(async (f) => ({ fund: f, position: await departmentPosition(db, actor, f.id, d.id) })));
    const deadline = await currentDeadline(db);
    const pastDeadline = deadline !== null && todayInShanghai() > deadline.deadline;
    const statusErrors = errors.status ?? noErrors;
    const reportErrors = errors.report ?? noErrors;
    const b = formFields(req);
    const anyErrors = Object.values(errors).some((e) => e && e !== noErrors);
    const queue = await queueSections(db, req);
    res.status(anyErrors ? 422 : 200).send(
      page(
        req,
        `${d.name}（${d.code}）`,
        html`${queue}
<h2>正版化状态</h2><p>当前：<b>${statusNames[d.status]}</b>${d.accepted_on ? html`，${day(d.accepted_on)} 验收合格` : ''}</p>
<form method="post" action="/my/status">${csrfField(req)}${generalError(statusErrors)}
<label>报告新状态 <select name="status">${Object.entries(statusNames)
          .filter(([k]) => statusRank[k as DepartmentStatus] >= statusRank[d.status as DepartmentStatus])
          .map(([k, v]) => html`<option value="${k}" ${(b.status ?? d.status) === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<span class="muted">状态只能向前报告；如需退回到之前的状态，请联系财政厅会计说明理由。</span>${fieldError(statusErrors, 'status')}
<label>生效日期 <input type="date" name="effective_date" value="${b.effective_date ?? todayInShanghai()}"></label>${fieldError(statusErrors, 'effective_date')}
<label>说明 <input name="note" value="${b.note ?? ''}" size="40"></label><button>报告</button></form>
<table><thead><tr><th>生效日期</th><th>状态</th><th>说明</th><th>记录人</th><th>记录时间</th></tr></thead><tbody>
${history.map((h) => html`<tr><td>${day(h.effective_date)}</td><td>${statusNames[h.status]}${h.accepted_on ? `（${day(h.accepted_on)} 验收）` : ''}</td><td>${h.note}</td><td>${h.changed_by_username ?? ''}</td><td>${moment(h.changed_at)}</td></tr>`)}
</tbody></table>
${
  deadline
    ? html`<h2 id="written-report">专题书面报告</h2>${
        reports.length
          ? reports.map(
              (r) => html`<p>已于 ${moment(r.filed_at)} 报送：${r.body}</p>
${(reportFiles.get(r.id) ?? []).map((f) => html`<p>附件：<a href="/api/v1/attachments/${f.id}">${f.file_name}</a></p>`)}
<form method="post" action="/written-reports/${r.id}/attachments" enctype="multipart/form-data">${csrfField(req)}<label>上传盖章扫描件（PDF、JPEG、PNG） <input type="file" name="file" accept="application/pdf,image/jpeg,image/png" required></label>${fieldError(reportErrors, 'file')}<button>上传</button></form>`,
            )
          : d.status === 'not_started'
            ? html`<p>${deadline.title}：请于 ${day(deadline.deadline)} 前报送${pastDeadline ? html`（<b class="error">已逾期</b>）` : ''}。</p>
<form method="post" action="/my/written-report">${csrfField(req)}${generalError(reportErrors)}<label>报告内容（未完成原因及工作打算） <textarea name="body" rows="5" cols="70">${b.body ?? ''}</textarea></label>${fieldError(reportErrors, 'body')}<button>报送</button></form>`
            : html`<p class="muted">本单位无需报送。</p>`
      }`
    : ''
}
<h2>采购发票</h2>
<table><thead><tr><th>发票</th><th>开票日期</th><th>销售方</th><th class="num">金额</th><th>状态</th></tr></thead><tbody>
${receipts.map((r) => html`<tr><td class="invoice-no"><a href="/receipts/${r.id}">${r.invoice_code ? `${r.invoice_code}-` : ''}${r.invoice_number}</a></td><td>${day(r.issue_date)}</td><td>${r.seller_name}</td><td class="num">${yuan(r.total)}</td><td>${receiptStatusNames[r.status]}${r.status_reason ? `：${r.status_reason}` : ''}${r.status === 'rejected' ? html` <a href="/receipts/${r.id}/resubmit">更正后重新提交</a>` : ''}</td></tr>`)}
</tbody></table>
<h2>提交发票</h2>${funds.length ? receiptForm(req, d.id, d.name, funds, errors.receipt ?? noErrors) : html`<p class="muted">暂无可申报的资金。</p>`}
<h2>奖励与拨付</h2><table><thead><tr><th>资金</th><th class="num">核定奖励</th><th class="num">已分配</th><th class="num">已拨付</th><th class="num">应付未付</th><th class="num">应收回</th><th></th></tr></thead><tbody>
${positions.map(({ fund, position: p }) => html`<tr><td>${fund.name}</td><td class="num">${yuan(p.entitlement)}</td><td class="num">${yuan(p.allocated)}</td><td class="num">${yuan(p.paid)}</td><td class="num">${yuan(p.payable)}</td><td class="num">${yuan(p.to_recover)}</td><td><a href="/api/v1/funds/${fund.id}/departments/${d.id}/statement.pdf">下载资金拨付通知书</a></td></tr>`)}
</tbody></table>`,
        { notice },
      ),
    );
  }

  /** A unit as the finance bureau sees it: status history, and (for an accountant) acceptance 验收. */
  async function unitPage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'departments.read');
    const d = await getDepartment(db, req.actor!, idFrom(req));
    const history = (await statusHistory(db, req.actor!, d.id)).items;
    const b = formFields(req);
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        `${d.name}（${d.code}）`,
        html`
<p>当前：<b>${statusNames[d.status]}</b>${d.accepted_on ? html`，${day(d.accepted_on)} 验收合格` : ''}</p>
${
  req.actor!.role === 'accountant'
    ? html`<form method="post" action="/departments/${d.id}/status">${csrfField(req)}${generalError(errors)}
<label>状态 <select name="status">${Object.entries(statusNames).map(([k, v]) => html`<option value="${k}" ${(b.status ?? d.status) === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label>生效日期 <input type="date" name="effective_date" value="${b.effective_date ?? todayInShanghai()}"></label>${fieldError(errors, 'effective_date')}
<label>验收日期（仅已完成的单位） <input type="date" name="accepted_on" value="${b.accepted_on ?? d.accepted_on ?? ''}"></label>${fieldError(errors, 'accepted_on')}
<label>说明（退回到之前的状态时须填写理由） <input name="note" value="${b.note ?? ''}" size="40"></label>${fieldError(errors, 'note')}<button>记录</button></form>`
    : ''
}
<table><thead><tr><th>生效日期</th><th>状态</th><th>说明</th><th>记录人</th><th>记录时间</th></tr></thead><tbody>
${history.map((h) => html`<tr><td>${day(h.effective_date)}</td><td>${statusNames[h.status]}${h.accepted_on ? `（${day(h.accepted_on)} 验收）` : ''}</td><td>${h.note}</td><td>${h.changed_by_username ?? ''}</td><td>${moment(h.changed_at)}</td></tr>`)}
</tbody></table>`,
        { notice },
      ),
    );
  }

  return {
    unit: (req: Request, res: Response) => unitPage(req, res),
    async unitStatus(req: Request, res: Response) {
      authorize(req.actor, 'departments.status_write');
      const b = formFields(req);
      try {
        const problems = [];
        if (!calendarDate.safeParse(b.effective_date).success) problems.push({ field: 'effective_date', message: '请填写有效日期' });
        if (b.accepted_on && !calendarDate.safeParse(b.accepted_on).success) problems.push({ field: 'accepted_on', message: '请填写有效日期' });
        if (!b.status || !(b.status in statusNames)) problems.push({ field: 'status', message: '请选择状态' });
        if (problems.length) throw new AppError('VALIDATION_FAILED', '请更正标出的内容', problems);
        await changeStatus(db, contextOf(req), idFrom(req), {
          status: b.status as 'completed',
          effective_date: b.effective_date!,
          accepted_on: b.accepted_on || undefined,
          note: b.note?.trim() || undefined,
        });
        await unitPage(req, res, noErrors, '已记录。');
      } catch (e) {
        await unitPage(req, res, formErrors(e));
      }
    },
    my: (req: Request, res: Response) => my(req, res),
    rerenderWithReceiptErrors: (req: Request, res: Response) => (errors: FormErrors) => my(req, res, { receipt: errors }),
    async status(req: Request, res: Response) {
      authorize(req.actor, 'departments.status_write');
      const b = formFields(req);
      try {
        if (!calendarDate.safeParse(b.effective_date).success) throw validationError('effective_date', '请填写有效日期');
        if (!b.status || !(b.status in statusNames)) throw validationError('status', '请选择状态');
        await changeStatus(db, contextOf(req), req.actor!.departmentId!, {
          status: b.status as 'completed',
          effective_date: b.effective_date!,
          note: b.note?.trim() || undefined,
        });
        await my(req, res, {}, '状态已报告。');
      } catch (e) {
        await my(req, res, { status: formErrors(e) });
      }
    },
    async reportAttachment(req: Request, res: Response) {
      authorize(req.actor, 'attachments.upload');
      try {
        await attachScan(db, contextOf(req), req, config, { writtenReportId: idFrom(req) });
        await my(req, res, {}, '扫描件已上传。');
      } catch (e) {
        const errors = formErrors(e);
        await my(req, res, { report: { general: errors.general, fields: { file: errors.general ?? '上传失败' } } });
      }
    },
    async writtenReport(req: Request, res: Response) {
      authorize(req.actor, 'written_reports.file');
      const text = (formFields(req).body ?? '').trim();
      try {
        if (!text) throw validationError('body', '请填写报告内容');
        await fileWrittenReport(db, contextOf(req), req.actor!.departmentId!, text);
        await my(req, res, {}, '书面报告已报送。');
      } catch (e) {
        await my(req, res, { report: formErrors(e) });
      }
    },
  };
}
