import { describe, expect, it } from 'vitest';
import { describeProblems, fieldLabel } from '../../server/errors.ts';

describe('problem details in words', () => {
  it.each([
    ['invoice_number', '发票号码'],
    ['lines.2.amount', '明细 第 3 项 金额'],
    ['line 7', '第 7 行'],
    ['some_internal_key', ''],
  ])('names %s as “%s”', (field, label) => {
    expect(fieldLabel(field)).toBe(label);
  });

  it('joins problems into one Chinese sentence and never shows a JSON key', () => {
    expect(
      describeProblems([
        { field: 'issue_date', message: '不能晚于今天' },
        { field: 'x_y', message: '不对' },
      ]),
    ).toBe('开票日期：不能晚于今天；不对');
  });
});
