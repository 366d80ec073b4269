import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDepartmentsCsv } from '../../server/departments/department-rules.ts';
import { progressReport, rate } from '../../server/progress/progress-rules.ts';
import { chineseDate, percent, withSeparators } from '../../reports/format.ts';

const units = parseDepartmentsCsv(readFileSync(new URL('../../db/seed/units-2011.csv', import.meta.url), 'utf8')).rows.map((r, i) => ({
  id: String(i + 1),
  code: r.code,
  name: r.name,
  group: r.group,
  status: r.status,
}));

describe('the progress report', () => {
  it("reproduces the notice's figures from its 71 units", () => {
    const r = progressReport(units, '2011-08-31', null, []);
    expect(r.total).toBe(71);
    expect(r.by_status).toEqual({ completed: 31, procuring: 29, awaiting_funds: 3, not_started: 8 });
    expect(r.completion_rate).toBe('0.4366');
    expect(r.projected_rate).toBe('0.8873');
    expect(r.by_group.government!.total).toBe(56);
    expect(r.by_group.party_mass_judicial!.total).toBe(15);
    expect(r.units.not_started.map((u) => u.name)).toEqual(['自治区团委', '交通运输厅', '外办', '旅游局', '工商局', '煤炭工业管理局', '测绘局', '妇联']);
  });

  it('owes written reports from units not started; after the deadline the unfiled ones are overdue', () => {
    const deadline = { id: '1', deadline: '2011-09-20', title: '专题书面报告' };
    const notStarted = units.filter((u) => u.status === 'not_started');
    const filed = [{ department_id: notStarted[0]!.id, filed_at: '2011-09-10T02:00:00.000Z' }];
    const before = progressReport(units, '2011-09-20', deadline, filed).written_reports!;
    expect([before.filed.length, before.owed.length, before.overdue.length, before.past_deadline]).toEqual([1, 7, 0, false]);
    const after = progressReport(units, '2011-09-21', deadline, filed).written_reports!;
    expect(after.overdue.map((u) => u.name)).toEqual(notStarted.slice(1).map((u) => u.name));
  });

  it.each([
    [0, 0, '0.0000'],
    [1, 3, '0.3333'],
    [2, 3, '0.6667'],
    [1, 8, '0.1250'],
    [5, 5, '1.0000'],
  ])('rounds %i/%i half up to %s', (part, whole, expected) => {
    expect(rate(part, whole)).toBe(expected);
  });
});

describe('formatting for paper', () => {
  it('writes dates and rates as a person reads them', () => {
    expect(chineseDate('2011-09-20')).toBe('2011年9月20日');
    expect(percent('0.4366')).toBe('43.66%');
    expect(percent('1.0000')).toBe('100.00%');
    expect(withSeparators('12450000.00')).toBe('12,450,000.00');
    expect(withSeparators('999.99')).toBe('999.99');
  });
});
