import { fundUseChart } from './charts/charts.ts';
import { drawChart } from './charts/pdf-chart.ts';
import { chineseDate } from './format.ts';
import { ReportDocument } from './pdf/report-document.ts';
import type { DepartmentStatementModel, FundSummaryModel, Total } from './statement-model.ts';

export interface Issue {
  statementNo: string;
  contentHash: string;
  issuedAt: Date;
  issuedOn: string;
}

/** What the QR code carries: enough to look a printed copy up and compare. */
export function qrPayload(issue: Pick<Issue, 'statementNo' | 'contentHash'>): string {
  return `JIANGBU-STATEMENT|${issue.statementNo}|${issue.contentHash}`;
}

export async function header(pdf: ReportDocument, title: string, fields: Array<[string, string]>, issue: Issue, addressee?: string): Promise<void> {
  const { default: QRCode } = await import('qrcode');
  const qr = await QRCode.toBuffer(qrPayload(issue), { type: 'png', errorCorrectionLevel: 'M', margin: 1, width: 160 });
  const top = pdf.doc.y;
  pdf.doc.image(qr, pdf.doc.page.width - 56 - 64, top - 8, { width: 64 });
  pdf.title(title);
  pdf.paragraph(`编号：${issue.statementNo}    出具日期：${chineseDate(issue.issuedOn)}`, { align: 'center', size: 9.5 });
  pdf.doc.moveDown(0.4);
  // 主送: whom the notice is addressed to, first, as on every official notice.
  if (addressee) pdf.paragraph(`主送：${addressee}`);
  pdf.fields(fields);
}

function totals(pdf: ReportDocument, rows: Total[]): void {
  pdf.table(
    [
      { header: '项目', width: 90 },
      { header: '金额（元）', width: 110, align: 'right' },
      { header: '大写', width: 300 },
    ],
    rows.map((t) => [t.label, t.figures, t.words]),
    { fontSize: 9.5 },
  );
}

/** What the totals are followed by, never apart from them: the chain head, the signatures, the 落款 and the seal. */
function footer(pdf: ReportDocument, m: { head: { seq: number; hash: string }; signatures: string[]; office: string }, issue: Issue): void {
  pdf.paragraph(`本表依据账簿第 ${m.head.seq} 号凭证为止的记录编制；账簿链头 ${m.head.hash}`, { size: 8.5 });
  pdf.paragraph(`内容摘要 ${issue.contentHash}；可扫描二维码或上传本文件核验真伪。`, { size: 8.5 });
  pdf.signatures(['制单', '审核', '会计主管'], m.signatures);
  pdf.closing(m.office, chineseDate(issue.issuedOn));
}

/** Room for a heading, a totals table of `rows` rows and the footer: moved to a new page together if it does not fit. */
function keepTotalsWithFooter(pdf: ReportDocument, rows: number): void {
  pdf.ensureSpace(40 + (rows + 1) * 22 + footer_height);
}
const footer_height = 50 + ReportDocument.signatures_height + ReportDocument.closing_height;

/** 资金拨付通知书: the basis (verified receipts), the allocations with their explanation, the payments, the totals. */
export async function renderDepartmentStatement(m: DepartmentStatementModel, issue: Issue): Promise<Buffer> {
  const pdf = await ReportDocument.create({ title: `${m.title} ${issue.statementNo}`, subject: issue.contentHash, createdAt: issue.issuedAt });
  await header(pdf, m.title, m.fields, issue, m.addressee);
  pdf.heading('一、奖励依据（已审核的正版软件采购发票）');
  if (m.receipts.length) {
    pdf.table(
      [
        { header: '发票代码/号码', width: 106 },
        { header: '种类', width: 52 },
        { header: '开票日期', width: 70 },
        { header: '销售方', width: 76 },
        { header: '软件（类别）', width: 96 },
        { header: '套数', width: 30, align: 'right' },
        { header: '金额', width: 64, align: 'right' },
      ],
      m.receipts,
      { fontSize: 8 },
    );
  } else pdf.paragraph('无。');
  pdf.heading('二、奖励分配');
  if (m.allocations.length) {
    pdf.table(
      [
        { header: '批次', width: 50 },
        { header: '分配日期', width: 70 },
        { header: '核定奖励', width: 75, align: 'right' },
        { header: '本次分配', width: 75, align: 'right' },
        { header: '计算依据', width: 230 },
      ],
      m.allocations,
      { fontSize: 8 },
    );
  } else pdf.paragraph('无。');
  pdf.heading('三、资金拨付');
  if (m.payments.length) {
    pdf.table(
      [
        { header: '凭证号', width: 120 },
        { header: '日期', width: 100 },
        { header: '类型', width: 80 },
        { header: '金额', width: 100, align: 'right' },
      ],
      m.payments,
      { fontSize: 8.5 },
    );
  } else pdf.paragraph('无。');
  keepTotalsWithFooter(pdf, m.totals.length);
  pdf.heading('四、合计');
  totals(pdf, m.totals);
  footer(pdf, m, issue);
  return pdf.toBuffer(`${m.title} ${issue.statementNo}`);
}

/** 以奖代补资金汇总表: the fund's totals and one row per unit. */
export async function renderFundSummary(m: FundSummaryModel, issue: Issue): Promise<Buffer> {
  const pdf = await ReportDocument.create({ title: `${m.title} ${issue.statementNo}`, subject: issue.contentHash, createdAt: issue.issuedAt });
  await header(pdf, m.title, m.fields, issue);
  pdf.heading('一、资金总额');
  totals(pdf, m.totals);
  // The same picture as the fund page's: drawn full width, kept on one page with its caption.
  await drawChart(pdf, await fundUseChart(m.fund, { width: 480, height: 200 }), 200, '图1　资金拨款、分配、拨付与可分配余额（万元）');
  pdf.heading('二、分单位情况');
  if (m.left_out) pdf.paragraph(`另有 ${m.left_out} 个单位无分配、拨付、应付或应收回款项，未列出（合计含全部单位）。`, { size: 9 });
  pdf.table(
    [
      { header: '代码', width: 52 },
      { header: '单位', width: 140 },
      { header: '状态', width: 50 },
      { header: '已分配', width: 72, align: 'right' },
      { header: '已拨付', width: 72, align: 'right' },
      { header: '应付未付', width: 72, align: 'right' },
      { header: '应收回', width: 64, align: 'right' },
    ],
    m.rows,
    { fontSize: 8.5, lastRowKeepsWith: footer_height },
  );
  footer(pdf, m, issue);
  return pdf.toBuffer(`${m.title} ${issue.statementNo}`);
}
