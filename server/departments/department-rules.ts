import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { FieldError } from '../errors.ts';

export const departmentStatuses = ['not_started', 'procuring', 'awaiting_funds', 'completed'] as const;

export const departmentFields = {
  code: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, '须为 1–32 位字母、数字、“-”或“_”'),
  name: z.string().trim().min(1, '不能为空').max(200, '最多 200 个字符'),
  group: z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, '须为小写分组名，如 government'),
  status: z.enum(departmentStatuses, { error: `须为 ${departmentStatuses.join('、')} 之一` }),
  note: z.string().max(1000, '最多 1000 个字符'),
};

/** What may be corrected in a unit: never its code (accounts and statements are named by it). */
export const departmentChange = z.strictObject({
  name: departmentFields.name.optional(),
  group: departmentFields.group.optional(),
  contact: z.string().trim().max(200, '最多 200 个字符').optional(),
  active: z.boolean({ error: '须为 true 或 false' }).optional(),
});

export const csvRow = z.object({
  code: departmentFields.code,
  name: departmentFields.name,
  group: departmentFields.group,
  status: departmentFields.status,
  note: departmentFields.note,
});

export type DepartmentRow = z.output<typeof csvRow>;

const csvColumns = ['code', 'name', 'group', 'status', 'note'];

/** Reads the units CSV (columns of data/units-2011.csv). Any bad line refuses the whole file. */
export function parseDepartmentsCsv(text: string): { rows: DepartmentRow[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  let records: string[][];
  try {
    records = parse(text.replace(/^\uFEFF/, ''), { relax_column_count: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    return { rows: [], errors: [{ field: 'file', message: `无法按 CSV 读取：${(e as Error).message}` }] };
  }
  const header = records[0];
  if (!header || header.join(',') !== csvColumns.join(',')) {
    return { rows: [], errors: [{ field: 'line 1', message: `第一行须为 ${csvColumns.join(',')}` }] };
  }
  const rows: DepartmentRow[] = [];
  const seen = new Map<string, number>();
  records.slice(1).forEach((record, i) => {
    const line = i + 2;
    if (record.length !== csvColumns.length) {
      errors.push({ field: `line ${line}`, message: `有 ${record.length} 列，应为 ${csvColumns.length} 列` });
      return;
    }
    const parsed = csvRow.safeParse(Object.fromEntries(csvColumns.map((c, j) => [c, record[j]])));
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errors.push({ field: `line ${line}`, message: `${issue.path.join('.')} ${issue.message}` });
      return;
    }
    const earlier = seen.get(parsed.data.code);
    if (earlier) {
      errors.push({ field: `line ${line}`, message: `代码 ${parsed.data.code} 与第 ${earlier} 行重复` });
      return;
    }
    seen.set(parsed.data.code, line);
    rows.push(parsed.data);
  });
  if (rows.length === 0 && errors.length === 0) errors.push({ field: 'file', message: '没有单位' });
  return { rows, errors };
}
