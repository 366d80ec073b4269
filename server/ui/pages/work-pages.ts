import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { AppError } from '../../errors.ts';
import { workQueue, type QueueSection } from '../../queues/work-queues.ts';
import { day, html, type Html } from '../html.ts';
import { page } from '../layout.ts';
import { waitingSection } from './approval-pages.ts';

/* 待办: each role's home lists what waits for it, oldest first, each row one click from where to act. */

export function queueSection(s: QueueSection): Html {
  return html`<section class="queue" data-queue="${s.key}" aria-labelledby="queue-${s.key}"><h2 id="queue-${s.key}">${s.title} <span class="count">（${s.count}）</span></h2>
${
  s.items.length === 0
    ? html`<p class="muted empty">${s.empty}</p>`
    : html`<div class="table-wrap"><table class="queue-table"><thead><tr><th scope="col">事项</th><th scope="col">日期</th><th scope="col">说明</th></tr></thead><tbody>
${s.items.map((i) => html`<tr><td><a href="${i.href}">${i.label}</a></td><td>${i.date ? day(i.date) : '—'}</td><td>${i.detail ?? ''}</td></tr>`)}
</tbody></table></div>${s.count > s.items.length && s.more ? html`<p><a href="${s.more}">查看全部 ${s.count} 项 →</a></p>` : ''}`
}</section>`;
}

/** The queue sections of the signed-in user, for their home page. */
export async function queueSections(db: Knex, req: Request): Promise<Html> {
  const sections = await workQueue(db, req.actor!);
  // The accountant approves in place: the approvals list keeps its 审核通过 / 退回 buttons.
  const parts = await Promise.all(
    sections.map(async (s) =>
      s.key === 'approvals' ? html`<section class="queue" data-queue="approvals">${await waitingSection(db, req)}</section>` : queueSection(s),
    ),
  );
  return html`${parts}`;
}

export function workPages(db: Knex) {
  return {
    async work(req: Request, res: Response) {
      if (req.actor!.role === 'admin') throw new AppError('NOT_FOUND', '没有这个页面');
      const sections = await queueSections(db, req);
      res.send(page(req, '待办', html`<p class="muted">需要您处理的事项，等待最久的在前。处理完的事项自动从这里消失。</p>${sections}`));
    },
  };
}
