import type { ProgressReport, Status } from '../server/progress/progress-rules.ts';
import { chineseDate, departmentStatusNames as statusNames, groupName, percent } from './format.ts';
import { drawChart } from './charts/pdf-chart.ts';
import { ReportDocument } from './pdf/report-document.ts';

const sections: Array<[Status, string]> = [
  ['completed', '已完成软件正版化工作的单位'],
  ['procuring', '已落实采购经费，正在履行采购手续的单位'],
  ['awaiting_funds', '本单位无结余经费，已向财政申请专项经费的单位'],
  ['not_started', '未开展软件正版化工作的单位'],
];
const numerals = ['一', '二', '三', '四'];

type Rate = string | null;

/** What the bulletin adds from the notice's other half: target, compliance, open findings, in-person reports. */
export interface BulletinSupervision {
  target: { target_date: string; target_rate: string; projected_rate: string; on_track: boolean; shortfall: string } | null;
  compliance: {
    overall: { reported: number; units: number; computers: number; os: Rate; office: Rate; antivirus: Rate; overall: Rate };
    by_group: Record<string, { reported: number; units: number; os: Rate; office: Rate; antivirus: Rate; overall: Rate }>;
  };
  escalations: Array<{ name: string; due: string }>;
  openFindings: Array<{ department_name: string | null; document_no: string | null; kind: string; deadline: string; overdue: boolean }>;
}

const rateOrUnknown = (r: Rate) => (r === null ? '—' : percent(r));
const findingKinds: Record<string, string> = { unlicensed_installs: '未授权安装', register_mismatch: '台账不符', other: '其他' };

/** A numbered issue of the bulletin: its 文号, 发文机关, the chain heads it rests on, and what its QR code carries. */
export interface BulletinIssue {
  documentNo: string;
  issueNo: number;
  issuer: string;
  issuedOn: string;
  contentHash: string;
  heads: Array<{ code: string; name: string; seq: number; hash: string }>;
}

/** The masthead of a 快报: its name and issue, the issuing office and date, a rule, then the 文号 and a QR code to check it by. */
async function masthead(pdf: ReportDocument, issue: BulletinIssue): Promise<void> {
  const { default: QRCode } = await import('qrcode');
  const qr = await QRCode.toBuffer(`JIANGBU-BULLETIN|${issue.documentNo}|${issue.contentHash}`, {
    type: 'png',
    errorCorrectionLevel: 'M',
    margin: 1,
    width: 160,
  });
  const top = pdf.doc.y;
  pdf.doc.image(qr, pdf.doc.page.width - 56 - 56, top - 8, { width: 56 });
  pdf.doc.fillColor('#b00000');
  pdf.title('软件正版化工作快报');
  pdf.doc.fillColor('black');
  pdf.paragraph(`第${issue.issueNo}期`, { align: 'center' });
  pdf.paragraph(`${issue.issuer}\u3000\u3000${chineseDate(issue.issuedOn)}`, { align: 'center', size: 10 });
  const y = pdf.doc.y + 2;
  pdf.doc
    .moveTo(56, y)
    .lineTo(pdf.doc.page.width - 56, y)
    .lineWidth(1.2)
    .strokeColor('#b00000')
    .stroke()
    .strokeColor('black');
  pdf.doc.y = y + 6;
  pdf.paragraph(issue.documentNo, { align: 'right', size: 10 });
}

/** The end of an issue: the 落款 with its seal place, and the chain heads it rests on, for checking. */
function colophon(pdf: ReportDocument, issue: BulletinIssue): void {
  pdf.closing(issue.issuer, chineseDate(issue.issuedOn));
  for (const h of issue.heads) pdf.paragraph(`${h.name}（${h.code}）账簿第 ${h.seq} 号凭证，链头 ${h.hash}`, { size: 8 });
  pdf.paragraph(`内容摘要 ${issue.contentHash}；可扫描二维码或上传本文件核验真伪。`, { size: 8 });
}

/** The progress bulletin (通报): the notice's own report, as a document to print and sign. */
export async function renderBulletin(
  report: ProgressReport,
  issuedAt: Date,
  supervision?: BulletinSupervision,
  issue?: BulletinIssue,
  charts?: { byStatus: string; completion: string },
): Promise<Buffer> {
  const pdf = await ReportDocument.create({ title: '软件正版化工作进展情况通报', subject: issue?.contentHash, createdAt: issuedAt });
  if (issue) await masthead(pdf, issue);
  pdf.title('软件正版化工作进展情况通报');
  pdf.paragraph(`统计截至 ${chineseDate(report.as_of)}`, { align: 'center' });

  const groups = Object.entries(report.by_group)
    .map(([g, c]) => `${groupName(g)}${c.total}个`)
    .join('、');
  const s = report.by_status;
  pdf.heading('一、工作进展');
  pdf.paragraph(
    `列入软件正版化实施单位共 ${report.total} 个（${groups}）。已完成 ${s.completed} 个，完成率为 ${percent(report.completion_rate)}；` +
      `正在履行采购手续 ${s.procuring} 个；已向财政申请专项经费 ${s.awaiting_funds} 个；未开展 ${s.not_started} 个。` +
      `上述已落实或已申请经费的单位全部完成后，完成率可达 ${percent(report.projected_rate)}。`,
  );
  pdf.table(
    [
      { header: '类别', width: 150 },
      { header: '单位数', width: 60, align: 'right' },
      { header: statusNames.completed!, width: 60, align: 'right' },
      { header: statusNames.procuring!, width: 60, align: 'right' },
      { header: statusNames.awaiting_funds!, width: 60, align: 'right' },
      { header: statusNames.not_started!, width: 60, align: 'right' },
    ],
    [
      ...Object.entries(report.by_group).map(([g, c]) => [
        groupName(g),
        String(c.total),
        String(c.completed),
        String(c.procuring),
        String(c.awaiting_funds),
        String(c.not_started),
      ]),
      ['合计', String(report.total), String(s.completed), String(s.procuring), String(s.awaiting_funds), String(s.not_started)],
    ],
  );
  if (charts) {
    await drawChart(pdf, charts.byStatus, 200, '图1　各类单位正版化进展（单位数）');
    await drawChart(pdf, charts.completion, 200, '图2　完成率变化与目标');
  }

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
  if (supervision) {
    const t = supervision.target;
    pdf.heading(`${w ? '三' : '二'}、工作目标与软件正版化率`);
    if (t) {
      pdf.paragraph(
        `目标：${chineseDate(t.target_date)}前完成率达到 ${percent(t.target_rate)}；预计完成率 ${percent(t.projected_rate)}，${t.on_track ? '可以实现目标' : `尚差 ${percent(t.shortfall)}，目标存在风险`}。`,
      );
    }
    const c = supervision.compliance.overall;
    pdf.paragraph(
      `已报告计算机数量的单位 ${c.reported} 个（共 ${c.units} 个），计算机 ${c.computers} 台；正版化率：操作系统 ${rateOrUnknown(c.os)}，办公软件 ${rateOrUnknown(c.office)}，杀毒软件 ${rateOrUnknown(c.antivirus)}，综合 ${rateOrUnknown(c.overall)}。`,
    );
    pdf.table(
      [
        { header: '类别', width: 150 },
        { header: '已报告', width: 60, align: 'right' },
        { header: '操作系统', width: 70, align: 'right' },
        { header: '办公软件', width: 70, align: 'right' },
        { header: '杀毒软件', width: 70, align: 'right' },
        { header: '综合', width: 70, align: 'right' },
      ],
      Object.entries(supervision.compliance.by_group).map(([g, x]) => [
        groupName(g),
        `${x.reported}/${x.units}`,
        rateOrUnknown(x.os),
        rateOrUnknown(x.office),
        rateOrUnknown(x.antivirus),
        rateOrUnknown(x.overall),
      ]),
    );
    pdf.heading(`${w ? '四' : '三'}、督查发现问题整改情况`);
    const f = supervision.openFindings;
    if (f.length) {
      pdf.paragraph(`未销号问题 ${f.length} 项，其中逾期 ${f.filter((x) => x.overdue).length} 项：`);
      pdf.table(
        [
          { header: '单位', width: 150 },
          { header: '督查文号', width: 120 },
          { header: '问题', width: 80 },
          { header: '整改期限', width: 90 },
          { header: '', width: 40 },
        ],
        f.map((x) => [x.department_name ?? '', x.document_no ?? '', findingKinds[x.kind] ?? x.kind, chineseDate(x.deadline), x.overdue ? '逾期' : '']),
      );
    } else pdf.paragraph('督查发现的问题均已整改销号。');
    pdf.heading(`${w ? '五' : '四'}、由单位主要领导当面汇报的单位`);
    const e = supervision.escalations;
    pdf.paragraph(
      e.length
        ? `规定时间内仍未提交书面报告的单位（${e.length}个），由单位主要领导向自治区领导当面汇报：${e.map((x) => `${x.name}（${chineseDate(x.due)}前）`).join('、')}。`
        : '无。',
    );
  }
  if (issue) colophon(pdf, issue);
  return pdf.toBuffer(issue ? `${issue.documentNo} · 快报第${issue.issueNo}期` : `软件正版化工作进展情况通报 · ${chineseDate(report.as_of)}`);
}
