import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { allows, authorize } from '../../auth/policy.ts';
import { AppError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { fromZod } from '../../http/problem.ts';
import type { loadProgress } from '../../progress/progress.ts';
import { setTarget, targetBody } from '../../progress/programme.ts';
import { day, html } from '../html.ts';
import { csrfField, formFields } from '../layout.ts';

type Report = Awaited<ReturnType<typeof loadProgress>>;

export const riskNames: Record<string, string> = { procuring_long: '采购久未完成', awaiting_funds: '等待经费', open_findings: '督查问题未销号' };
const pct = (r: string) => `${(Number(r) * 100).toFixed(2)}%`;

/** The progress page's part for the leading group: target, units at risk, in-person reports owed, inventories missing. */
export function programmeSection(r: Report, req: Request) {
  const t = r.target;
  return html`<h2>工作目标</h2>
${t ? html`<p>目标：${day(t.target_date)} 前完成率达到 <b>${pct(t.target_rate)}</b>（距目标 ${t.days_left} 天）。当前完成率 ${pct(t.completion_rate)}，预计完成率 <b>${pct(t.projected_rate)}</b>：${t.on_track ? '可以实现目标。' : html`<b class="error">预计差 ${pct(t.shortfall)}，目标存在风险。</b>`}</p>` : html`<p class="muted">尚未设定工作目标。</p>`}
${
  allows(req.actor!.role, 'progress.target')
    ? html`<form method="post" action="/progress/target">${csrfField(req)}<label>目标日期 <input type="date" name="target_date" value="${t?.target_date ?? ''}" required></label>
<label>目标完成率（%） <input name="target_percent" value="${t ? String(Number(t.target_rate) * 100) : '100'}" size="6" inputmode="decimal"></label><label>当面汇报期限（书面报告截止后天数） <input name="in_person_days" value="${String(t?.in_person_days ?? 10)}" size="4" inputmode="numeric"></label><button>设定目标</button></form>`
    : ''
}
<h2>影响目标的单位（${r.at_risk.length}）</h2>
${r.at_risk.length ? html`<table><thead><tr><th>单位</th><th>原因</th><th>状态起始</th></tr></thead><tbody>${r.at_risk.map((u) => html`<tr><td><a href="/departments/${u.id}">${u.name}</a></td><td>${u.reasons.map((x) => riskNames[x] ?? x).join('、')}${u.open_findings ? `（${u.open_findings} 项）` : ''}</td><td>${day(u.status_since)}</td></tr>`)}</tbody></table>` : html`<p>无。</p>`}
<h2>应由单位主要领导当面汇报（${r.escalations.length}）</h2>
${r.escalations.length ? html`<table><thead><tr><th>单位</th><th>当面汇报期限</th></tr></thead><tbody>${r.escalations.map((e) => html`<tr><td>${e.name}（${e.department_code}）</td><td>${day(e.due)}${e.overdue ? html` <b class="error">已逾期</b>` : ''}</td></tr>`)}</tbody></table>` : html`<p>无。</p>`}
<h2>${r.inventories.year} 年度软件盘点未报送（${r.inventories.missing.length}）</h2>
<p>${r.inventories.missing.length ? r.inventories.missing.map((u) => u.name).join('、') : '全部已报送。'}</p>`;
}

/** The accountant sets the programme's target from the progress page; the API's schema checks it. */
export function programmeTargetPage(db: Knex) {
  return async (req: Request, res: Response) => {
    authorize(req.actor, 'progress.target');
    const b = formFields(req);
    const percent = (b.target_percent ?? '').trim();
    if (!/^[0-9]{1,3}(\.[0-9]{1,2})?$/.test(percent))
      throw new AppError('VALIDATION_FAILED', '目标完成率须为 0 到 100 之间的数，最多两位小数', [
        { field: 'target_percent', message: '须为 0 到 100 之间的数' },
      ]);
    const [whole, frac = ''] = percent.split('.');
    // "87.5" % → "0.8750": move the decimal point as text, never through a float.
    const hundredths = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
    const rate = `${Math.floor(hundredths / 10000)}.${String(hundredths % 10000).padStart(4, '0')}`;
    const days = (b.in_person_days ?? '').trim();
    const parsed = targetBody.safeParse({
      target_date: b.target_date,
      target_rate: rate,
      in_person_days: /^[0-9]{1,3}$/.test(days) ? Number(days) : days || undefined,
    });
    if (!parsed.success) throw fromZod(parsed.error, 'body');
    await setTarget(db, contextOf(req), parsed.data);
    res.redirect(303, '/progress');
  };
}
