import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { amountInWords } from '../../../reports/amount-in-words.ts';
import { ledgerAccountOf } from '../../ledger/account-books.ts';
import { entryKindName } from '../../ledger/entry-kinds.ts';
import { formatAmount } from '../../ledger/money.ts';
import { day, html, yuan, type Html } from '../html.ts';

/* 记账凭证 as accountants know it (通用记账凭证, 用友/金蝶 layout), for a posted or a prepared entry. */

export interface SheetEntry {
  id: string;
  fund_id: string;
  status: string;
  kind: string;
  date: string;
  memo: string;
  document_no: string | null;
  voucher_year?: number;
  voucher_no?: string;
  created_by_name: string | null;
  approved_by_name: string | null;
  postings: Array<{ account_code: string; account_name?: string; book?: string; side: string; amount: string }>;
}

const bookNames: Record<string, string> = { financial: '财务会计', budget: '预算会计' };
// A prepared entry's postings carry codes only: the chart says their book (a unit sub-account's is its base's).
const bookOfCode = (code: string) => ledgerAccountOf(code.split('.')[0]!)?.book ?? 'financial';

/** The source documents the system holds for an entry (附单据): its document, the run, payment or clawback it came from. */
export async function supportingDocuments(db: Knex, entryId: string, documentNo: string | null): Promise<string[]> {
  const [lines, payments, clawbacks] = await Promise.all([
    db('allocation_lines').where({ entry_id: entryId }).distinct('run_id'),
    db('disbursements').where({ entry_id: entryId }).select('kind', 'voucher_no'),
    db('finding_clawbacks').where({ entry_id: entryId }).select('id', 'finding_id'),
  ]);
  const docs = new Set<string>();
  if (documentNo) docs.add(`文件 ${documentNo}`);
  for (const l of lines) docs.add(`分配方案第 ${l.run_id} 批`);
  for (const p of payments) docs.add(`${p.kind === 'refund' ? '退回' : '支付'}凭证 ${p.voucher_no}`);
  for (const c of clawbacks) docs.add(`督查发现第 ${c.finding_id} 号收回决定`);
  return [...docs];
}

/** The voucher sheet: heading, 凭证字号 and date, the lines by book with 合计 in figures and 大写, 附单据, the three names. */
export function voucherSheet(e: SheetEntry, fundName: string, documents: string[]): Html {
  const books = ['financial', 'budget']
    .map((book) => ({ book, lines: e.postings.filter((p) => (p.book ?? bookOfCode(p.account_code)) === book) }))
    .filter((b) => b.lines.length > 0);
  const total = (lines: SheetEntry['postings'], side: string) =>
    formatAmount(lines.filter((p) => p.side === side).reduce((s, p) => s.plus(p.amount), new Decimal(0)));
  const posted = e.status === 'posted';
  return html`<article class="voucher-sheet" aria-label="记账凭证">
<h2 class="voucher-title">记 账 凭 证</h2>
<div class="voucher-meta"><span>核算单位：${fundName}</span><span>日期：${day(e.date)}</span><span class="voucher-no">凭证字号：${e.voucher_no ? html`<b>${e.voucher_year} 年 ${e.voucher_no}</b>` : '（审核记账后编号）'}</span></div>
<div class="table-wrap"><table class="voucher-table"><thead><tr><th scope="col">摘要</th><th scope="col">科目代码</th><th scope="col">会计科目</th><th scope="col" class="num">借方金额</th><th scope="col" class="num">贷方金额</th></tr></thead>
${books.map(
  (b) => html`<tbody><tr class="book-row"><th colspan="5" scope="rowgroup">${bookNames[b.book]}</th></tr>
${b.lines.map((p) => html`<tr><td>${e.memo}</td><td>${p.account_code}</td><td>${p.account_name ?? ledgerAccountOf(p.account_code.split('.')[0]!)?.name ?? ''}</td><td class="num">${p.side === 'debit' ? yuan(p.amount) : ''}</td><td class="num">${p.side === 'credit' ? yuan(p.amount) : ''}</td></tr>`)}
<tr class="total-row"><th colspan="3" scope="row">合计（${bookNames[b.book]}）：<span class="in-words">${amountInWords(total(b.lines, 'debit'))}</span></th><td class="num">${yuan(total(b.lines, 'debit'))}</td><td class="num">${yuan(total(b.lines, 'credit'))}</td></tr></tbody>`,
)}
</table></div>
<p class="voucher-attachments">附单据 <b class="attachment-count">${documents.length}</b> 张${documents.length ? html`：${documents.join('；')}` : ''} · 类型：${entryKindName(e.kind)}</p>
<p class="signers"><span>记账：<b class="bookkeeper">${posted ? (e.approved_by_name ?? '—') : '—'}</b></span><span>审核：<b class="approver">${e.approved_by_name ?? '—'}</b></span><span>制单：<b class="preparer">${e.created_by_name ?? '—'}</b></span></p>
</article>`;
}
