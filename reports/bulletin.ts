import type { ProgressReport, Status } from '../server/progress/progress-rules.ts';
import { chineseDate, groupName, percent } from './format.ts';
import { ReportDocument } from './pdf/report-document.ts';

const sections: Array<[Status, string]> = [
  ['completed', '已完成软件正版化工作的单位'],
  ['procuring', '已落实采购经费，正在履行采购手续的单位'],
  ['awaiting_funds', '本单位无结余经费，已向财政申请专项经费的单位'],
  ['not_started', '未完成的单位'],
];
const numerals = ['一', '二', '三', '四'];

/** The progress bulletin (通报): the notice's own report, as a document to print and sign. */
export async function renderBulletin(report: ProgressReport, issuedAt: Date): Promise<Buffer> {
  const pdf = await ReportDocument.create({ title: '软件正版化工作进展情况通报', createdAt: issuedAt });
  pdf.title('软件正版化工作进展情况通报');
  pdf.paragraph(`统计截至 ${chineseDate(report.as_of)}`, { align: 'center' });

  const groups = Object.entries(report.by_group).map(([g, c]) => `${groupName(g)}${c.total}个`).join('、');
  const s = report.by_status;
  pdf.heading('一、工作进展');
  pdf.paragraph(
    `列入软件正版化实施单位共 ${report.total} 个（${groups}）。已完成 ${s.completed} 个，完成率为 ${percent(report.completion_rate)}；` +
      `正在履行采购手续 ${s.procuring} 个；已向财政申请专项经费 ${s.awaiting_funds} 个；未完成 ${s.not_started} 个。` +
      `上述已落实或已申请经费的单位全部完成后，完成率可达 ${percent(report.projected_rate)}。`,
  );
  pdf.table(
    [{ header: '类别', width: 150 }, { header: '单位数', width: 60, align: 'right' }, { header: '已完成', width: 60, align: 'right' }, { header: '采购中', width: 60, align: 'right' }, { header: '申请经费', width: 60, align: 'right' }, { header: '未完成', width: 60, align: 'right' }],
    [
      ...Object.entries(report.by_group).map(([g, c]) => [groupName(g), String(c.total), String(c.completed), String(c.procuring), String(c.awaiting_funds), String(c.not_started)]),
      ['合计', String(report.total), String(s.completed), String(s.procuring), String(s.awaiting_funds), String(s.not_started)],
    ],
  );

  sections.forEach(([status, label], i) => {
    const units = report.units[status];
    pdf.heading(`（${numerals[i]}）${label}（${units.length}个）`);
    pdf.paragraph(units.length ? `${units.map((u) => u.name).join('、')}。` : '无。');
  });

  const w = report.written_reports;
  if (w) {
    pdf.heading('二、专题书面报告');
    pdf.paragraph(`${w.title}：未开展软件正版化工作的单位应于 ${chineseDate(w.deadline)} 前报送专题书面报告，说明未完成原因及工作打算。`);
    pdf.paragraph(`已报送（${w.filed.length}个）：${w.filed.length ? w.filed.map((u) => u.name).join('、') : '无'}。`);
    if (w.past_deadline) pdf.paragraph(`逾期未报送（${w.overdue.length}个）：${w.overdue.length ? w.overdue.map((u) => u.name).join('、') : '无'}。`);
    else pdf.paragraph(`尚未报送（${w.owed.length}个）：${w.owed.length ? w.owed.map((u) => u.name).join('、') : '无'}。`);
  }
  return pdf.toBuffer(`软件正版化工作进展情况通报 · ${chineseDate(report.as_of)}`);
}
