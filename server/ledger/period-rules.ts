import { AppError, fieldLabel } from '../errors.ts';
import { todayInShanghai } from '../http/schemas.ts';

/** What decides which dates a fund accepts (invariant 9). Dates are `YYYY-MM-DD`, compared as strings. */
export interface FundPeriod {
  opening_date: string;
  closed_through: string | null;
}

/**
 * An accounting date must fall from the fund's opening date to today (Asia/Shanghai), after the
 * closed-through date. The database refuses the same (journal_entries_extend_chain).
 */
export function checkEntryDate(date: string, fund: FundPeriod, field = 'date', today: string = todayInShanghai()): void {
  const label = fieldLabel(field) || '日期';
  if (fund.closed_through !== null && date <= fund.closed_through) {
    throw new AppError('PERIOD_CLOSED', `${label}：本资金已结账至 ${fund.closed_through}，${date} 所在期间不能再记账`, [
      { field, message: `须晚于结账日 ${fund.closed_through}` },
    ]);
  }
  if (date < fund.opening_date) {
    throw new AppError('DATE_OUT_OF_PERIOD', `${label}：${date} 早于本资金启用日 ${fund.opening_date}`, [{ field, message: `不能早于 ${fund.opening_date}` }]);
  }
  if (date > today) {
    throw new AppError('DATE_OUT_OF_PERIOD', `${label}：${date} 晚于今天 ${today}`, [{ field, message: `不能晚于今天 ${today}` }]);
  }
}
