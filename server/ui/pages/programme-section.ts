import type { loadProgress } from '../../progress/progress.ts';
import { day, html } from '../html.ts';

type Report = Awaited<ReturnType<typeof loadProgress>>;

export const riskNames: Record<string, string> = { procuring_long: '采购久未完成', awaiting_funds: '等待经费', open_findings: '督查问题未销号' };
const pct = (r: string) => `${(Number(r) * 100).toFixed(2)}%`;

/** The progress page's part for the leading group: target, units at risk, in-person reports owed, inventories missing. */
export function programmeSection(r: Report) {
  const t = r.target;
  return html`<h2>工作目标</h2>
${t ? html`<p>目标：${day(t.target_date)} 前完成率达到 <b>${pct(t.target_rate)}</b>（距目标 ${t.days_left} 天）。当前完成率 ${pct(t.completion_rate)}，预计完成率 <b>${pct(t.projected_rate)}</b>：${t.on_track ? '可以实现目标。' : html`<b class="error">预计差 ${pct(t.shortfall)}，目标存在风险。</b>`}</p>` : html`<p class="muted">尚未设定工作目标（PUT /api/v1/progress/target）。</p>`}
<h2>影响目标的单位（${r.at_risk.length}）</h2>
${r.at_risk.length ? html`<table><thead><tr><th>单位</th><th>原因</th><th>状态起始</th></tr></thead><tbody>${r.at_risk.map((u) => html`<tr><td><a href="/departments/${u.id}">${u.name}</a></td><td>${u.reasons.map((x) => riskNames[x] ?? x).join('、')}${u.open_findings ? `（${u.open_findings} 项）` : ''}</td><td>${day(u.status_since)}</td></tr>`)}</tbody></table>` : html`<p>无。</p>`}
<h2>应由单位主要领导当面汇报（${r.escalations.length}）</h2>
${r.escalations.length ? html`<table><thead><tr><th>单位</th><th>当面汇报期限</th></tr></thead><tbody>${r.escalations.map((e) => html`<tr><td>${e.name}（${e.department_code}）</td><td>${day(e.due)}${e.overdue ? html` <b class="error">已逾期</b>` : ''}</td></tr>`)}</tbody></table>` : html`<p>无。</p>`}
<h2>${r.inventories.year} 年度软件盘点未报送（${r.inventories.missing.length}）</h2>
<p>${r.inventories.missing.length ? r.inventories.missing.map((u) => u.name).join('、') : '全部已报送。'}</p>`;
}
