import { describe, expect, it } from 'vitest';
import { accountingDate, calendarDate } from '../../server/http/schemas.ts';
import { checkEntryDate } from '../../server/ledger/period-rules.ts';

const fund = { opening_date: '2011-01-01', closed_through: '2011-06-30' };
const today = '2011-12-31';

describe('the date rule', () => {
  it.each([
    ['1900-01-01', true],
    ['2999-12-31', true],
    ['2012-02-29', true],
    ['1899-12-31', false],
    ['3000-01-01', false],
    ['0000-01-01', false],
    ['9999-12-31', false],
    ['2011-02-29', false],
    ['2011-02-30', false],
    ['2011-13-01', false],
    ['2011-1-1', false],
    ['20110101', false],
    ['', false],
  ])('%s is a date a person may type: %s', (date, ok) => {
    expect(calendarDate.safeParse(date).success).toBe(ok);
  });

  it('an accounting date is not after today in China', () => {
    expect(accountingDate.safeParse('2999-12-31').success).toBe(false);
    expect(accountingDate.safeParse('2011-06-01').success).toBe(true);
  });
});

describe('the fund period', () => {
  it.each([
    ['2011-07-01', null],
    ['2011-12-31', null],
    ['2011-06-30', 'PERIOD_CLOSED'],
    ['2011-01-01', 'PERIOD_CLOSED'],
    ['2010-12-31', 'PERIOD_CLOSED'],
    ['2012-01-01', 'DATE_OUT_OF_PERIOD'],
  ])('%s → %s', (date, code) => {
    const check = () => checkEntryDate(date, fund, 'date', today);
    if (code === null) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ code }));
  });

  it('before the opening date of a fund never closed', () => {
    expect(() => checkEntryDate('2010-12-31', { opening_date: '2011-01-01', closed_through: null }, 'date', today)).toThrow(
      expect.objectContaining({ code: 'DATE_OUT_OF_PERIOD' }),
    );
    expect(() => checkEntryDate('2011-01-01', { opening_date: '2011-01-01', closed_through: null }, 'date', today)).not.toThrow();
  });
});
