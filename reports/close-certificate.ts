import { chineseDate, withSeparators } from './format.ts';
import { ReportDocument } from './pdf/report-document.ts';
import { header, type Issue } from './statement-pdf.ts';

/** What a close certificate (结账单) states; built from the books at the moment of approval. */
export interface CloseCertificateModel {
  kind: 'close' | 'reopen';
  fund: { code: string; name: string; document_no: string };
  closeId: string;
  through: string;
  previousThrough: string | null;
  reason: string;
  preparedBy: string;
  approvedBy: string;
  entriesInPeriod: number;
  head: { seq: number; hash: string };
  books: { financial: { debit: string; credit: string }; budget: { debit: string; credit: string } };
  accounts: Array<{ code: string; name: string; book: string; debit: string; credit: string }>;
  reopens: Array<{ through: string; previousThrough: string | null; reason: string; preparedBy: string; approvedBy: string; decidedOn: string }>;
}

const bookName = (book: string) => (book === 'financial' ? '财务会计' : '预算会计');

/** 结账单 (or 反结账单): the trial balance of both books as of the date, the chain head, the two people, the reopen history. */
export async function renderCloseCertificate(m: CloseCertificateModel, issue: Issue): Promise<Buffer> {
  const title = m.kind === 'close' ? '结账单' : '反结账单';
  const pdf = await ReportDocument.create({ title: `${title} ${issue.statementNo}`, subject: issue.contentHash, createdAt: issue.issuedAt });
  await header(
    pdf,
    title,
    [
      ['资金', `${m.fund.name}（${m.fund.code}）`],
      ['文号', m.fund.document_no],
      [m.kind === 'close' ? '结账至' : '反结账至', chineseDate(m.through)],
      ['原结账日', m.previousThrough ? chineseDate(m.previousThrough) : '未结账'],
      ...(m.reason ? [['事由', m.reason] as [string, string]] : []),
      ['期间内凭证', `${m.entriesInPeriod} 张`],
      ['账簿链头', `第 ${m.head.seq} 号凭证 ${m.head.hash}`],
    ],
    issue,
  );
  pdf.heading(`一、科目余额表（截至 ${chineseDate(m.through)}）`);
  pdf.table(
    [
      { header: '账簿', width: 60 },
      { header: '科目代码', width: 80 },
      { header: '科目名称', width: 190 },
      { header: '借方余额', width: 90, align: 'right' },
      { header: '贷方余额', width: 90, align: 'right' },
    ],
    [
      ...m.accounts.map((a) => [bookName(a.book), a.code, a.name, withSeparators(a.debit), withSeparators(a.credit)]),
      ['财务会计', '合计', '', withSeparators(m.books.financial.debit), withSeparators(m.books.financial.credit)],
      ['预算会计', '合计', '', withSeparators(m.books.budget.debit), withSeparators(m.books.budget.credit)],
    ],
    { fontSize: 8.5 },
  );
  pdf.heading('二、反结账记录');
  if (m.reopens.length) {
    pdf.table(
      [
        { header: '日期', width: 80 },
        { header: '自', width: 80 },
        { header: '反结账至', width: 80 },
        { header: '事由', width: 160 },
        { header: '制单 / 审核', width: 110 },
      ],
      m.reopens.map((r) => [r.decidedOn, r.previousThrough ?? '—', r.through, r.reason, `${r.preparedBy} / ${r.approvedBy}`]),
      { fontSize: 8.5 },
    );
  } else pdf.paragraph('无。');
  pdf.paragraph(`制单：${m.preparedBy}    审核：${m.approvedBy}`);
  pdf.paragraph(`内容摘要 ${issue.contentHash}；可扫描二维码或上传本文件核验真伪。`, { size: 8.5 });
  pdf.signatures(['制单', '审核', '会计主管']);
  return pdf.toBuffer(`${title} ${issue.statementNo}`);
}
