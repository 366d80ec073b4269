import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../auth/policy.ts';
import { contextOf } from '../../http/context.ts';
import { jobFor, jobView, requestJob, type JobKind, type JobView } from '../../jobs/jobs.ts';
import type { JobQueue } from '../../routes/jobs.ts';
import { html, moment } from '../html.ts';
import { csrfField, idFrom, page } from '../layout.ts';

const kindNames: Record<JobKind, string> = { statement_bundle: '全部单位资金拨付通知书（ZIP）', audit_bundle: '审计包（ZIP）' };
const statusNames: Record<string, string> = { queued: '排队中', running: '生成中', done: '已完成', failed: '未能完成', expired: '已过期' };
const refresh_s = 2;

/** A job's progress as a bar and words; the page reloads itself while it runs (no script needed). */
export function jobProgress(job: JobView) {
  const known = job.total != null && job.total > 0;
  return html`<p><progress ${known ? html`value="${job.done}" max="${job.total}"` : ''}>${known ? `${job.done} / ${job.total}` : ''}</progress>
 ${statusNames[job.status]}${known ? `：${job.done} / ${job.total}` : ''}</p>`;
}

/** One form that asks for a job, for the fund pages. */
export const jobButton = (req: Request, action: string, label: string) =>
  html`<form method="post" action="${action}" class="inline">${csrfField(req)}<button>${label}</button></form>`;

export function jobPages(db: Knex, queue: JobQueue | undefined) {
  const ask = (kind: JobKind, action: 'statements.read' | 'ledger.read') => async (req: Request, res: Response) => {
    authorize(req.actor, action);
    const job = await requestJob(db, contextOf(req), kind, idFrom(req));
    queue?.wake();
    res.redirect(303, `/jobs/${job.id}`);
  };
  return {
    askForStatements: ask('statement_bundle', 'statements.read'),
    askForAuditBundle: ask('audit_bundle', 'ledger.read'),
    async show(req: Request, res: Response) {
      authorize(req.actor, 'jobs.read');
      const job = jobView(await jobFor(db, req.actor!, idFrom(req)));
      const running = job.status === 'queued' || job.status === 'running';
      res.send(
        page(
          req,
          kindNames[job.kind],
          html`${jobProgress(job)}
${running ? html`<p class="muted">本页每 ${refresh_s} 秒自动刷新；也可以 <a href="/jobs/${job.id}">手动刷新</a>。可以离开本页，任务在服务端继续进行。</p>` : ''}
${job.status === 'done' ? html`<p><a class="button" href="${job.result_url}">下载</a> 下载链接保留至 ${moment(job.result_expires_at)}，之后可重新生成。</p>` : ''}
${job.status === 'failed' ? html`<p class="error" role="alert">${job.error}</p>` : ''}
${job.status === 'expired' ? html`<p class="muted">结果已超过保留期限。已出具的通知书仍保留；请回到资金页面重新生成。</p>` : ''}
<p><a href="/funds/${job.fund_id}/statements">返回资金的通知书与导出</a> · 提交于 ${moment(job.created_at)}</p>`,
          { refresh_s: running ? refresh_s : undefined },
        ),
      );
    },
  };
}
