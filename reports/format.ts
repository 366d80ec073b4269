import { Decimal } from 'decimal.js';

/** 2011-09-20 → 2011年9月20日: how a person reads a date on paper. */
export function chineseDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-');
  return `${y}年${Number(m)}月${Number(d)}日`;
}

/** "0.4366" → "43.66%": a rate already rounded to four places, shown as a percentage exactly. */
export function percent(rate: string): string {
  return `${new Decimal(rate).times(100).toFixed(2)}%`;
}

/** "12450000.00" → "12,450,000.00": thousands separators on an exact amount string. */
export function withSeparators(amount: string): string {
  const [whole, frac] = amount.split('.');
  const sign = whole!.startsWith('-') ? '-' : '';
  const digits = whole!.replace('-', '');
  return `${sign}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac === undefined ? '' : `.${frac}`}`;
}

const groupNames: Record<string, string> = {
  government: '政府部门',
  party_mass_judicial: '党群口和公检法系统',
};

export function groupName(group: string): string {
  return groupNames[group] ?? group;
}

/**
 * The one vocabulary of a unit's status, on pages, in messages and in every PDF. The notice uses both
 * 未完成 and 未开展 for the same eight units; 未开展 is the one that does not also describe units
 * still procuring, and 已申请经费 is its 已向财政申请专项经费.
 */
/** What each licence kind is called, on the pages, in the exports and in the register PDF. */
export const licenceKindNames: Record<string, string> = { oem: 'OEM', retail: '零售', volume: '批量授权', subscription: '订阅' };

export const departmentStatusNames: Record<string, string> = { completed: '已完成', procuring: '采购中', awaiting_funds: '已申请经费', not_started: '未开展' };
