import { Decimal } from 'decimal.js';
import type { DepartmentStatementData, FundSummaryData } from '../server/statements/statement-data.ts';
import { amountInWords } from './amount-in-words.ts';
import { chineseDate, departmentStatusNames as statusNames, percent, withSeparators } from './format.ts';

const categoryNames: Record<string, string> = { os: '操作系统', office: '办公软件', antivirus: '杀毒软件', other: '其他软件' };
const kindNames: Record<string, string> = { vat_special: '增值税专票', vat_ordinary: '增值税普票', digital: '数电票', general: '普通发票' };

/** Who issues the documents: the office printed in the 落款 (ISSUING_OFFICE). */
export interface Issuer {
  office: string;
}

/** 制单 / 审核 / 会计主管 as printed: the people the approvals name; 会计主管 is signed by hand. */
function signatureNames(people: { preparers: string[]; approvers: string[] }): [string, string, string] {
  return [people.preparers.join('、'), people.approvers.join('、'), ''];
}

export interface Total {
  label: string;
  figures: string;
  words: string;
}

const total = (label: string, amount: string): Total => ({ label, figures: withSeparators(amount), words: amountInWords(amount) });

interface Explanation {
  categories?: Record<string, { base: string; rate: string; cap_per_licence: string | null; capped_lines: number }>;
  ceiling?: string | null;
  ceiling_applied?: boolean;
  factor?: string;
  qualifies?: boolean;
  reason?: string | null;
  clawback_basis?: { text: string };
}

/** One line of words for an allocation's explanation: base × rate per category, caps, ceiling, factor. */
export function explain(e: Explanation): string {
  // A clawback says which receipts fell and what was allocated and paid.
  if (e.clawback_basis) return e.clawback_basis.text;
  if (e.qualifies === false) return `不符合条件：${e.reason ?? ''}`;
  const parts = Object.entries(e.categories ?? {}).map(([c, x]) => {
    const cap = x.cap_per_licence && x.capped_lines ? `，封顶 ${withSeparators(x.cap_per_licence)}/套` : '';
    return `${categoryNames[c] ?? c} ${withSeparators(x.base)}×${percent(x.rate)}${cap}`;
  });
  if (e.ceiling_applied && e.ceiling) parts.push(`单位上限 ${withSeparators(e.ceiling)}`);
  if (e.factor && e.factor !== '1') parts.push(`按比例 ${e.factor.slice(0, 8)}`);
  return parts.join('；');
}

/** What a department's disbursement statement (资金拨付通知书) says, independent of how it is drawn. */
export function departmentStatementModel(d: DepartmentStatementData, issuer: Issuer) {
  return {
    kind: 'department' as const,
    title: '以奖代补资金拨付通知书',
    addressee: d.department.name as string,
    office: issuer.office,
    signatures: signatureNames(d.people),
    fields: [
      ['资金名称', `${d.fund.name}（${d.fund.code}）`],
      ['资金文号', d.fund.document_no],
      ['年度', `${d.fund.fiscal_year}年度`],
      ['收款单位', `${d.department.name}（${d.department.code}）`],
      [
        '单位状态',
        `${statusNames[d.department.status] ?? d.department.status}${d.department.accepted_on ? `，${chineseDate(d.department.accepted_on)}验收` : ''}`,
      ],
    ] as Array<[string, string]>,
    // Code and number on lines of their own: a number is never broken inside.
    receipts: d.lines.map((l) => [
      l.invoice_code ? `${l.invoice_code}\n${l.invoice_number}` : String(l.invoice_number),
      kindNames[l.invoice_kind] ?? l.invoice_kind,
      chineseDate(l.issue_date),
      l.seller_name,
      `${l.product}（${categoryNames[l.category] ?? l.category}）`,
      String(l.licences),
      withSeparators(l.amount),
    ]),
    allocations: d.allocations
      .map((a) => [
        `第 ${a.run_id} 批`,
        chineseDate(a.as_of),
        withSeparators(a.entitlement),
        a.clawback !== '0.00' ? `-${withSeparators(a.clawback)}` : withSeparators(a.amount),
        explain(a.explanation as Explanation),
      ])
      .concat(
        d.findingClawbacks.map((c) => [
          '督查收回',
          chineseDate(String(c.entry_date)),
          '',
          `-${withSeparators(String(c.amount))}`,
          `督查文号 ${c.document_no}：${String(c.description).slice(0, 60)}`,
        ]),
      ),
    payments: d.payments.map((p) => [
      p.voucher_no,
      chineseDate(p.pay_date),
      p.kind === 'refund' ? '单位退回' : '拨付',
      p.kind === 'refund' ? `-${withSeparators(p.amount)}` : withSeparators(p.amount),
    ]),
    totals: [
      total('已分配奖励', d.totals.allocated),
      total('已拨付', d.totals.paid),
      total('应付未付', d.totals.payable),
      total('应收回', d.totals.to_recover),
    ],
    head: d.head,
  };
}

export type DepartmentStatementModel = ReturnType<typeof departmentStatementModel>;

/** The fund summary: appropriated, allocated, paid, available, and one row per unit. */
export function fundSummaryModel(s: FundSummaryData, issuer: Issuer, options: { omitEmpty?: boolean } = {}) {
  const appropriated = String(s.fund.appropriated);
  const allocated = String(s.fund.allocated);
  const available = new Decimal(appropriated).minus(allocated).toFixed(2);
  const figures = ['allocated', 'paid', 'payable', 'to_recover'] as const;
  const listed = options.omitEmpty ? s.rows.filter((r) => figures.some((k) => !new Decimal(r[k]).isZero())) : s.rows;
  const left_out = s.rows.length - listed.length;
  return {
    kind: 'summary' as const,
    title: '以奖代补资金汇总表',
    office: issuer.office,
    /** The four figures the fund chart draws, in yuan. */
    fund: { appropriated, allocated, disbursed: String(s.fund.disbursed), available_to_allocate: available },
    signatures: signatureNames(s.people),
    /** Units with nothing allocated, paid, payable or to recover that the summary leaves out, when asked to. */
    left_out,
    fields: [
      ['资金名称', `${s.fund.name}（${s.fund.code}）`],
      ['资金文号', s.fund.document_no],
      ['年度', `${s.fund.fiscal_year}年度`],
    ] as Array<[string, string]>,
    totals: [
      total('财政拨款', appropriated),
      total('已分配', allocated),
      total('已拨付', String(s.fund.disbursed)),
      total('可分配余额', available),
      total('用款额度余额', s.cash),
    ],
    rows: [
      ...listed.map((r) => [r.code, r.name, statusNames[r.status] ?? r.status, ...figures.map((k) => withSeparators(r[k]))]),
      ['', '合计', '', ...figures.map((k) => withSeparators(s.rows.reduce((sum, r) => sum.plus(r[k]), new Decimal(0)).toFixed(2)))],
    ],
    head: s.head,
  };
}

export type FundSummaryModel = ReturnType<typeof fundSummaryModel>;
