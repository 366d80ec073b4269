import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { fundPositions } from '../../allocation/positions.ts';
import { allows, authorize } from '../../auth/policy.ts';
import type { Config } from '../../config.ts';
import { readUploadedBytes } from '../../files/file-store.ts';
import { contextOf } from '../../http/context.ts';
import { calendarDate } from '../../http/schemas.ts';
import { getFund } from '../../ledger/funds.ts';
import { loadProgress } from '../../progress/progress.ts';
import { setDeadline } from '../../progress/written-reports.ts';
import { verifyStatement } from '../../statements/statements.ts';
import { witnessFileOf } from '../../ledger/witness.ts';
import { day, html, moment, statusNames, yuan } from '../html.ts';
import { csrfField, fieldError, formErrors, formFields, generalError, idFrom, noErrors, page, type FormErrors } from '../layout.ts';
import { fundTabs } from './fund-pages.ts';
import { validationError } from '../../errors.ts';
import { programmeSection } from './programme-section.ts';
import { jobButton, jobProgress } from './job-pages.ts';
import { recentJobs } from '../../jobs/jobs.ts';
import { progressCharts } from '../../progress/progress-charts.ts';
import { chartFigure } from './chart-figure.ts';

export function reportPages(db: Knex, config: Pick<Config, 'uploadMaxBytes' | 'dataDir'> & { witnessFile?: string | undefined }) {
  async function progressPage(req: Request, res: Response, errors: FormErrors = noErrors) {
    authorize(req.actor, 'progress.read');
    const asOf = calendarDate.safeParse(req.query.as_of).success ? String(req.query.as_of) : undefined;
    const r = await loadProgress(db, asOf);
    const s = r.by_status;
    const w = r.written_reports;
    const charts = await progressCharts(db, r, { status: { width: 560, height: 240 }, completion: { width: 560, height: 240 } });
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '软件正版化进度',
        html`
<form method="get"><label class="inline">截至 <input type="date" name="as_of" value="${asOf ?? ''}"></label> <button>查看</button>
${allows(req.actor!.role, 'progress.bulletin') ? html` <a class="button" href="/api/v1/progress/bulletin.pdf${asOf ? `?as_of=${asOf}` : ''}">下载通报（PDF）</a>` : ''}</form>
<div class="figures"><div class="figure">单位总数<b>${r.total}</b></div><div class="figure">已完成<b>${s.completed}</b></div><div class="figure">采购中<b>${s.procuring}</b></div><div class="figure">已申请经费<b>${s.awaiting_funds}</b></div><div class="figure">未开展<b>${s.not_started}</b></div>
<div class="figure">完成率<b>${(Number(r.completion_rate) * 100).toFixed(2)}%</b></div><div class="figure">预计完成率<b>${(Number(r.projected_rate) * 100).toFixed(2)}%</b></div></div>
<div class="charts">${chartFigure(charts.byStatus, '各类单位正版化进展（单位数）', `共 ${r.total} 个单位：已完成 ${s.completed}，采购中 ${s.procuring}，已申请经费 ${s.awaiting_funds}，未开展 ${s.not_started}`)}${chartFigure(charts.completion, r.target ? `完成率变化与目标（${r.target.target_date} 前达到 ${(Number(r.target.target_rate) * 100).toFixed(0)}%）` : '完成率变化', `截至 ${r.as_of} 完成率 ${(Number(r.completion_rate) * 100).toFixed(2)}%`)}</div>
${(['completed', 'procuring', 'awaiting_funds', 'not_started'] as const).map((st) => html`<h2>${statusNames[st]}（${r.units[st].length}）</h2><p>${r.units[st].length ? r.units[st].map((u, i) => html`${i ? '、' : ''}<a href="/departments/${u.id}">${u.name}</a>`) : '无'}</p>`)}
<h2>专题书面报告</h2>
${w ? html`<p>${w.title}：截止 ${day(w.deadline)}。已报送 ${w.filed.length} 个：${w.filed.map((u) => u.name).join('、') || '无'}。${w.past_deadline ? `逾期未报送 ${w.overdue.length} 个：${w.overdue.map((u) => u.name).join('、') || '无'}。` : `尚未报送 ${w.owed.length} 个。`}</p>` : html`<p class="muted">尚未设定报送截止日期。</p>`}
${programmeSection(r, req)}
${allows(req.actor!.role, 'progress.deadline') ? html`<form method="post" action="/progress/deadline">${csrfField(req)}${generalError(errors)}<label>报告名称 <input name="title" value="专题书面报告" size="30"></label><label>截止日期 <input type="date" name="deadline" required></label>${fieldError(errors, 'deadline')}<button>设定</button></form>` : ''}`,
      ),
    );
  }

  async function verifyPage(req: Request, res: Response, result?: Awaited<ReturnType<typeof verifyStatement>>, errors: FormErrors = noErrors) {
    authorize(req.actor, 'statements.read');
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '通知书、快报真伪核验',
        html`
<form method="post" action="/statements/verify" enctype="multipart/form-data">${csrfField(req)}${generalError(errors)}
<label>上传通知书、汇总表或快报 PDF <input type="file" name="file" accept="application/pdf" required></label>${fieldError(errors, 'file')}<button>核验</button></form>
${
  result
    ? 'kind' in result && result.genuine
      ? 'issue_no' in result
        ? html`<p class="notice" role="status">真实、未经改动：${result.statement_no}，软件正版化工作快报第 ${result.issue_no} 期（统计截至 ${day(result.as_of)}），出具于 ${moment(result.issued_at)}。</p>`
        : html`<p class="notice" role="status">真实、未经改动：编号 ${result.statement_no}，${result.kind === 'summary' ? '资金汇总表' : `${result.department_name} 的资金拨付通知书`}，出具于 ${moment(result.issued_at)}，依据账簿第 ${result.head_seq} 号凭证。</p>${result.superseded_by ? html`<p class="error" role="status">注意：该通知书已被更新的通知书 ${result.superseded_by} 取代，请以新通知书为准。</p>` : ''}`
      : 'kind' in result && result.problem
        ? html`<p class="error" role="alert">编号 ${result.statement_no} 的文件与出具时一致，但不再可信：${result.problem}。</p>`
        : html`<p class="error" role="alert">不是本系统出具的原件，或已被改动（SHA-256 ${result.sha256}）。</p>`
    : ''
}`,
      ),
    );
  }

  return {
    progress: (req: Request, res: Response) => progressPage(req, res),
    async deadline(req: Request, res: Response) {
      authorize(req.actor, 'progress.deadline');
      const b = formFields(req);
      try {
        if (!calendarDate.safeParse(b.deadline).success) throw validationError('deadline', '请填写有效日期');
        await setDeadline(db, contextOf(req), { deadline: b.deadline!, title: (b.title ?? '').trim() || '专题书面报告' });
        res.redirect(303, '/progress');
      } catch (e) {
        await progressPage(req, res, formErrors(e));
      }
    },
    async statements(req: Request, res: Response) {
      authorize(req.actor, 'statements.read');
      const fund = await getFund(db, idFrom(req));
      const positions = await fundPositions(db, fund.id);
      const jobs = await recentJobs(db, req.actor!, fund.id);
      const api = `/api/v1/funds/${fund.id}`;
      res.send(
        page(
          req,
          `${fund.name} · 通知书与导出`,
          html`${fundTabs(fund.id, req)}
<p><a class="button" href="${api}/summary.pdf">资金汇总表（PDF）</a> ${jobButton(req, `/funds/${fund.id}/statements/bundle`, '生成全部单位通知书（ZIP）')}
 <a href="${api}/journal.xlsx">序时账 XLSX</a> · <a href="${api}/journal.csv">CSV</a> · <a href="${api}/trial-balance.xlsx">试算平衡表 XLSX</a> · <a href="${api}/trial-balance.csv">CSV</a></p>
<table><thead><tr><th>单位</th><th class="num">已分配</th><th class="num">已拨付</th><th class="num">应付未付</th><th></th></tr></thead><tbody>
${positions.map((p) => html`<tr><td>${p.department_name}（${p.department_code}）</td><td class="num">${yuan(p.allocated)}</td><td class="num">${yuan(p.paid)}</td><td class="num">${yuan(p.payable)}</td><td><a href="${api}/departments/${p.department_id}/statement.pdf">资金拨付通知书</a></td></tr>`)}
</tbody></table><p><a href="/statements/verify">核验一份通知书 →</a></p>
${jobs.length ? html`<h2>我生成的文件</h2><table><thead><tr><th>内容</th><th>提交于</th><th>进度</th><th></th></tr></thead><tbody>${jobs.map((j) => html`<tr><td>${j.kind === 'audit_bundle' ? '审计包' : '全部单位通知书'}</td><td>${moment(j.created_at)}</td><td>${jobProgress(j)}</td><td><a href="/jobs/${j.id}">查看</a>${j.result_url ? html` · <a href="${j.result_url}">下载</a>` : ''}</td></tr>`)}</tbody></table>` : ''}`,
        ),
      );
    },
    verifyForm: (req: Request, res: Response) => verifyPage(req, res),
    async verify(req: Request, res: Response) {
      authorize(req.actor, 'statements.read');
      try {
        const result = await verifyStatement(db, contextOf(req), await readUploadedBytes(req, config.uploadMaxBytes), witnessFileOf(config));
        await verifyPage(req, res, result);
      } catch (e) {
        const errors = formErrors(e);
        await verifyPage(req, res, undefined, { general: errors.general, fields: { file: errors.general ?? '' } });
      }
    },
  };
}
