import { chineseDate, departmentStatusNames, withSeparators } from '../../reports/format.ts';

/** Markup that is already safe: built by `html`, never from user input directly. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | boolean | null | undefined | Part[];

export function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function render(p: Part): string {
  if (p === null || p === undefined || p === false) return '';
  if (Array.isArray(p)) return p.map(render).join('');
  if (p instanceof Html) return p.value;
  return escape(String(p));
}

/** Template tag: every interpolated value is escaped unless it is Html. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0]!;
  parts.forEach((p, i) => {
    out += render(p) + strings[i + 1]!;
  });
  return new Html(out);
}

/** An amount for people: thousands separators, right-aligned by the caller's cell class. */
export const yuan = (amount: string | null | undefined) => (amount == null ? '—' : withSeparators(amount));
export const day = (isoDate: string | null | undefined) => (isoDate ? chineseDate(isoDate.slice(0, 10)) : '—');
const shanghaiMoment = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', dateStyle: 'long', timeStyle: 'short' });
export const moment = (iso: string | Date | null | undefined) => (iso ? shanghaiMoment.format(new Date(iso)) : '—');

export const statusNames = departmentStatusNames;
export const receiptStatusNames: Record<string, string> = { submitted: '待审核', verified: '已审核', rejected: '已退回', withdrawn: '已撤回' };
export const categoryNames: Record<string, string> = { os: '操作系统', office: '办公软件', antivirus: '杀毒软件', other: '其他' };
export const roleNames: Record<string, string> = { admin: '系统管理员', accountant: '会计', department: '单位', auditor: '审计', inspector: '督察组' };
