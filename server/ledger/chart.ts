export type Book = 'financial' | 'budget';
export type Side = 'debit' | 'credit';
export type AccountKind = 'cash' | 'payable' | 'revenue' | 'expense' | 'funds_on_hand' | 'budget_revenue' | 'budget_expenditure';

export interface AccountTemplate {
  code: string;
  name: string;
  book: Book;
  normalSide: Side;
  kind: AccountKind;
  /** Guarded accounts may never go below zero. */
  guarded: boolean;
}

/** Created with every fund (DESIGN.md "The books"). */
export const fundAccounts: AccountTemplate[] = [
  { code: '1011', name: '零余额账户用款额度', book: 'financial', normalSide: 'debit', kind: 'cash', guarded: true },
  { code: '4001', name: '财政拨款收入', book: 'financial', normalSide: 'credit', kind: 'revenue', guarded: false },
  { code: '8001', name: '资金结存', book: 'budget', normalSide: 'debit', kind: 'funds_on_hand', guarded: true },
  { code: '6001', name: '财政拨款预算收入', book: 'budget', normalSide: 'credit', kind: 'budget_revenue', guarded: false },
];

/** Per-department sub-accounts, created on first use as `{base}.{department code}`. */
export const departmentAccounts: Record<string, Omit<AccountTemplate, 'code'>> = {
  '2307': { name: '其他应付款', book: 'financial', normalSide: 'credit', kind: 'payable', guarded: true },
  '5001': { name: '业务活动费用—以奖代补', book: 'financial', normalSide: 'debit', kind: 'expense', guarded: false },
  '7101': { name: '行政支出—以奖代补', book: 'budget', normalSide: 'debit', kind: 'budget_expenditure', guarded: false },
};

export function departmentAccountCode(base: keyof typeof departmentAccounts, departmentCode: string): string {
  return `${base}.${departmentCode}`;
}

/** Splits `2307.XJ031` into its base and department code; null for a fund-level or unknown code. */
export function parseDepartmentAccountCode(code: string): { base: string; departmentCode: string } | null {
  const m = /^(2307|5001|7101)\.([A-Za-z0-9_-]{1,32})$/.exec(code);
  return m ? { base: m[1]!, departmentCode: m[2]! } : null;
}

export function departmentAccountName(base: string, departmentName: string): string {
  return `${departmentAccounts[base]!.name}—${departmentName}`;
}
