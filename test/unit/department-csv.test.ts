import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDepartmentsCsv } from '../../server/departments/department-rules.ts';

const units2011 = readFileSync(new URL('../../db/seed/units-2011.csv', import.meta.url), 'utf8');

describe('the units CSV', () => {
  it('reads the 71 units of the 2011 notice with their groups and statuses', () => {
    const { rows, errors } = parseDepartmentsCsv(units2011);
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(71);
    expect(rows.filter((r) => r.group === 'government')).toHaveLength(56);
    expect(rows.filter((r) => r.status === 'completed')).toHaveLength(31);
    expect(rows.find((r) => r.code === 'XJ012')).toMatchObject({ name: '局', note: '原文此处仅存“局”字，单位全称缺失' });
  });

  it('names every bad line and why', () => {
    const csv = [
      'code,name,group,status,note',
      'XJ001,甲,government,completed,',
      'XJ 2,乙,government,completed,',
      'XJ003,,government,done,',
      'XJ001,丙,government,completed,',
      'XJ004,丁,government',
    ].join('\n');
    const { errors } = parseDepartmentsCsv(csv);
    expect(errors.map((e) => e.field)).toEqual(['line 3', 'line 4', 'line 4', 'line 5', 'line 6']);
    expect(errors[0]!.message).toMatch(/^code /);
    expect(errors[3]!.message).toMatch(/与第 2 行重复/);
    expect(errors[4]!.message).toMatch(/有 3 列/);
  });

  it('refuses a file with another header', () => {
    expect(parseDepartmentsCsv('id,name\n1,x').errors[0]).toMatchObject({ field: 'line 1' });
  });
});
