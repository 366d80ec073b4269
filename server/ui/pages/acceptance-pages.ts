import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../auth/policy.ts';
import { listDepartments } from '../../departments/departments.ts';
import { acceptDepartments } from '../../departments/status.ts';
import { AppError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { calendarDate, todayInShanghai } from '../../http/schemas.ts';
import { html } from '../html.ts';
import { csrfField, fieldError, formErrors, generalError, noErrors, page, type FormErrors } from '../layout.ts';

const pageSize = 200;

/** Acceptance (验收) of many completed units at once: check boxes, one date, one request. */
export function acceptancePages(db: Knex) {
  async function acceptancePage(req: Request, res: Response, errors: FormErrors = noErrors, notice?: string) {
    authorize(req.actor, 'departments.accept');
    const q = req.query as Record<string, string | undefined>;
    const search = q.q?.trim().slice(0, 200) || undefined;
    const cursor = /^[0-9]+$/.test(q.cursor ?? '') ? q.cursor : undefined;
    const listed = await listDepartments(db, req.actor!, { limit: pageSize, cursor, q: search, status: 'completed', active: true, accepted: false });
    const b = (req.body ?? {}) as Record<string, string | string[]>;
    const chosen = new Set(Array.isArray(b.department_ids) ? b.department_ids : b.department_ids ? [b.department_ids] : []);
    const next = listed.next_cursor ? new URLSearchParams({ ...(search ? { q: search } : {}), cursor: listed.next_cursor }).toString() : null;
    res.status(errors === noErrors ? 200 : 422).send(
      page(
        req,
        '验收',
        html`
<p>以下是已完成正版化、尚未验收的在用单位。勾选验收合格的单位，填写验收日期，一次记录。</p>
<form method="get" class="filters"><label>查找（代码或名称） <input name="q" value="${search ?? ''}"></label> <button>查找</button></form>
<form method="post" action="/departments/acceptance" class="acceptance">${csrfField(req)}${generalError(errors)}
<label>验收日期 <input type="date" name="accepted_on" value="${typeof b.accepted_on === 'string' ? b.accepted_on : todayInShanghai()}" required></label>${fieldError(errors, 'accepted_on')}
<table><thead><tr><th><input type="checkbox" data-check-all aria-label="全选"></th><th>代码</th><th>名称</th></tr></thead><tbody>
${listed.items.map((d) => html`<tr><td><input type="checkbox" name="department_ids" value="${d.id}" ${chosen.has(d.id) ? 'checked' : ''} aria-label="${d.name}"></td><td>${d.code}</td><td>${d.name}</td></tr>`)}
</tbody></table>${listed.items.length ? '' : html`<p class="muted">没有待验收的单位。</p>`}
<p><button>记录验收</button></p></form>${next ? html`<p><a href="/departments/acceptance?${next}" rel="next" class="more">更多（下一页）</a></p>` : ''}`,
        { notice },
      ),
    );
  }

  return {
    acceptance: (req: Request, res: Response) => acceptancePage(req, res),
    async accept(req: Request, res: Response) {
      authorize(req.actor, 'departments.accept');
      const b = (req.body ?? {}) as Record<string, string | string[]>;
      const ids = (Array.isArray(b.department_ids) ? b.department_ids : b.department_ids ? [b.department_ids] : []).filter((x) => /^[1-9][0-9]{0,17}$/.test(x));
      try {
        const problems = [];
        if (ids.length === 0) problems.push({ field: 'department_ids', message: '请勾选验收合格的单位' });
        if (typeof b.accepted_on !== 'string' || !calendarDate.safeParse(b.accepted_on).success)
          problems.push({ field: 'accepted_on', message: '请填写有效日期' });
        if (problems.length) throw new AppError('VALIDATION_FAILED', problems.map((p) => p.message).join('；'), problems);
        const result = await acceptDepartments(db, contextOf(req), ids, b.accepted_on as string);
        req.body = {};
        await acceptancePage(req, res, noErrors, `已记录 ${result.accepted} 个单位验收合格：${result.items.map((d) => d.name).join('、')}。`);
      } catch (e) {
        await acceptancePage(req, res, formErrors(e));
      }
    },
  };
}
