import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { auditActionChoices, auditActionName, auditIp, auditObjectNames, auditRoleName } from '../../audit/audit-names.ts';
import { listAudit, type AuditFilter } from '../../audit/audit-log.ts';
import { authorize } from '../../auth/policy.ts';
import { calendarDate } from '../../http/schemas.ts';
import { html, moment } from '../html.ts';
import { page } from '../layout.ts';

/* 审计日志 for auditors: by user name, action, object and dates (北京时间), exported with a title block. */

/** The day after an ISO date (the end of a range is the start of the next day, Beijing time). */
const nextDay = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

export function auditLogPage(db: Knex) {
  return async function auditLog(req: Request, res: Response) {
    authorize(req.actor, 'audit.read');
    const q = req.query as Record<string, string | undefined>;
    const choices = auditActionChoices();
    const problems: string[] = [];
    const date = (name: 'from' | 'to') => {
      const v = q[name]?.trim();
      if (!v) return undefined;
      if (calendarDate.safeParse(v).success) return v;
      problems.push(`“${v}”不是有效日期（YYYY-MM-DD），未按该日期筛选。`);
      return undefined;
    };
    const shown = {
      actor: q.actor?.trim().slice(0, 64) || undefined,
      action: q.action && choices.some(([a]) => a === q.action) ? q.action : undefined,
      object_type: q.object_type && q.object_type in auditObjectNames ? q.object_type : undefined,
      object_id: q.object_id?.trim().slice(0, 100) || undefined,
      from: date('from'),
      to: date('to'),
    };
    const filter: AuditFilter = {
      actor_name: shown.actor,
      action: shown.action,
      object_type: shown.object_type,
      object_id: shown.object_type ? shown.object_id : undefined,
      from: shown.from ? `${shown.from}T00:00:00+08:00` : undefined,
      to: shown.to ? `${nextDay(shown.to)}T00:00:00+08:00` : undefined,
    };
    const cursor = /^[0-9]{1,18}$/.test(q.cursor ?? '') ? q.cursor : undefined;
    const log = await listAudit(db, { ...filter, limit: 100, cursor });
    const apiFilter = new URLSearchParams(
      Object.entries({
        actor: filter.actor_name,
        action: filter.action,
        object_type: filter.object_type,
        object_id: filter.object_id,
        from: filter.from,
        to: filter.to,
      }).filter(([, v]) => v) as Array<[string, string]>,
    );
    const keep = new URLSearchParams(Object.entries(shown).filter(([, v]) => v) as Array<[string, string]>);
    res.send(
      page(
        req,
        '审计日志',
        html`<form method="get" class="filters audit-filters">
<label class="inline-label">用户名 <input name="actor" value="${shown.actor ?? ''}" size="12" placeholder="如 kuaiji"></label>
<label class="inline-label">操作 <select name="action"><option value="">全部</option>${choices.map(([a, name]) => html`<option value="${a}" ${shown.action === a ? 'selected' : ''}>${name}</option>`)}</select></label>
<label class="inline-label">对象 <select name="object_type"><option value="">全部</option>${Object.entries(auditObjectNames).map(([k, v]) => html`<option value="${k}" ${shown.object_type === k ? 'selected' : ''}>${v}</option>`)}</select></label>
<label class="inline-label">对象编号 <input name="object_id" value="${shown.object_id ?? ''}" size="10"></label>
<label class="inline-label">日期自 <input type="date" name="from" value="${shown.from ?? ''}"></label>
<label class="inline-label">至 <input type="date" name="to" value="${shown.to ?? ''}"></label>
<button>筛选</button></form>
${problems.length ? html`<p class="error" role="alert">${problems.join(' ')}</p>` : ''}
<p class="exports">导出当前筛选结果：<a href="/api/v1/audit-log/export?${apiFilter.toString()}${apiFilter.toString() ? '&' : ''}format=xlsx" download>Excel（XLSX）</a> · <a href="/api/v1/audit-log/export?${apiFilter.toString()}${apiFilter.toString() ? '&' : ''}format=csv" download>CSV</a>（含标题栏：筛选条件、导出时间、导出人）</p>
<div class="table-wrap"><table class="audit-log"><thead><tr><th scope="col">时间</th><th scope="col">用户</th><th scope="col">角色</th><th scope="col">操作</th><th scope="col">对象</th><th scope="col">来源</th></tr></thead><tbody>
${log.items.map(
  (e) =>
    html`<tr><td>${moment(e.at as Date)}</td><td>${e.actor_username ?? '—'}</td><td>${auditRoleName(e.actor_role)}</td><td title="${e.action}">${auditActionName(String(e.action))}</td><td>${e.object_type ? `${auditObjectNames[String(e.object_type)] ?? e.object_type} ${e.object_id ?? ''}` : ''}</td><td class="mono">${auditIp(e.ip as string | null)}</td></tr>`,
)}
${log.items.length === 0 ? html`<tr><td colspan="6" class="empty">没有符合条件的记录。</td></tr>` : ''}
</tbody></table></div>${log.next_cursor ? html`<p class="pager"><a rel="next" href="?${keep.toString()}${keep.toString() ? '&' : ''}cursor=${log.next_cursor}">更早的记录 →</a></p>` : ''}`,
      ),
    );
  };
}
