import type ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, type FieldError } from '../errors.ts';
import type { Sheet } from '../http/body.ts';
import { assertSafeText } from '../http/schemas.ts';
import type { RequestContext } from '../http/context.ts';
import { receiptContent, type ReceiptInput } from './receipt-rules.ts';
import { checkSubmission, insertReceipts } from './receipts.ts';

/** One row per receipt line; the receipt columns repeat on each of its lines. */
export const importColumns = [
  'department_code',
  'invoice_kind',
  'invoice_code',
  'invoice_number',
  'issue_date',
  'seller_name',
  'seller_tax_id',
  'total',
  'product',
  'category',
  'licences',
  'amount',
] as const;
const receiptColumns = importColumns.slice(0, 8);

/** Optional last column: how each line is licensed (oem, retail, volume, subscription); retail when absent. */
const licenceKindColumn = 'licence_kind';

type Row = Record<(typeof importColumns)[number], string> & { licence_kind?: string };

function cellText(value: ExcelJS.CellValue): string {
  if (value == null) return '';
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'object' && 'text' in value) return String(value.text);
  if (typeof value === 'object' && 'result' in value) return cellText(value.result as ExcelJS.CellValue);
  return String(value).trim();
}

async function readRows(sheet: Sheet): Promise<string[][]> {
  if (sheet.type === 'csv') {
    try {
      return parse(sheet.bytes.toString('utf8').replace(/^\uFEFF/, ''), { relax_column_count: true, skip_empty_lines: true, trim: true });
    } catch (e) {
      throw new AppError('CSV_INVALID', `无法按 CSV 读取文件：${(e as Error).message}`);
    }
  }
  const { default: Excel } = await import('exceljs');
  const workbook = new Excel.Workbook();
  try {
    await workbook.xlsx.load(sheet.bytes as unknown as ArrayBuffer);
  } catch {
    throw new AppError('CSV_INVALID', '无法读取该 XLSX 文件');
  }
  const ws = workbook.worksheets[0];
  if (!ws) throw new AppError('CSV_INVALID', '工作簿没有工作表');
  const rows: string[][] = [];
  ws.eachRow({ includeEmpty: false }, (row) => {
    rows.push([...importColumns, licenceKindColumn].map((_, i) => cellText(row.getCell(i + 1).value)));
  });
  return rows;
}

/** Groups the rows into receipts and checks each by the same rules as a single submission. Errors name the row. */
async function parseImport(db: Knex, ctx: RequestContext, sheet: Sheet) {
  const records = await readRows(sheet);
  assertSafeText(records, 'body');
  const header = records[0]?.slice(0, importColumns.length).join(',');
  if (header !== importColumns.join(',')) {
    throw new AppError('CSV_INVALID', `第一行须为表头 ${importColumns.join(',')}`, [{ field: 'row 1', message: '表头不符' }]);
  }
  const errors: FieldError[] = [];
  const groups = new Map<string, { firstRow: number; rows: Row[] }>();
  const withKind = records[0]?.[importColumns.length] === licenceKindColumn;
  records.slice(1).forEach((cells, i) => {
    const row = Object.fromEntries(importColumns.map((c, j) => [c, cells[j] ?? ''])) as Row;
    if (withKind && cells[importColumns.length]) row.licence_kind = cells[importColumns.length];
    const key = [row.department_code, row.invoice_kind, row.invoice_code, row.invoice_number].join('|');
    const group = groups.get(key) ?? { firstRow: i + 2, rows: [] };
    group.rows.push(row);
    groups.set(key, group);
  });
  if (groups.size === 0) errors.push({ field: 'file', message: 'has no rows' });
  const codes = [...new Set([...groups.values()].map((g) => g.rows[0]!.department_code))];
  const departments = new Map<string, string>((await db('departments').whereIn('code', codes).select('id', 'code')).map((d) => [d.code, String(d.id)]));
  const items: Array<{ departmentId: string; input: ReceiptInput; checked: ReturnType<typeof checkSubmission>['checked']; row: number }> = [];
  const seenKeys = new Map<string, number>();
  for (const { firstRow, rows } of groups.values()) {
    const first = rows[0]!;
    const at = `row ${firstRow}`;
    const departmentId = departments.get(first.department_code);
    if (!departmentId) errors.push({ field: at, message: `department_code ${first.department_code || '(empty)'} is not a known unit` });
    const differing = receiptColumns.filter((c) => rows.some((r) => r[c] !== first[c]));
    if (differing.length) errors.push({ field: at, message: `the lines of one invoice disagree on ${differing.join(', ')}` });
    const parsed = receiptContent.safeParse({
      invoice_kind: first.invoice_kind,
      ...(first.invoice_code ? { invoice_code: first.invoice_code } : {}),
      invoice_number: first.invoice_number,
      issue_date: first.issue_date,
      seller_name: first.seller_name,
      seller_tax_id: first.seller_tax_id,
      total: first.total,
      lines: rows.map((r) => ({
        product: r.product,
        category: r.category,
        licences: /^[0-9]+$/.test(r.licences) ? Number(r.licences) : r.licences,
        amount: r.amount,
        ...(r.licence_kind ? { licence_kind: r.licence_kind } : {}),
      })),
    });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errors.push({ field: at, message: `${issue.path.join('.')}: ${issue.message}` });
      continue;
    }
    const { errors: ruleErrors, checked } = checkSubmission(ctx.actor!, parsed.data);
    for (const e of ruleErrors) errors.push({ field: at, message: `${e.field}: ${e.message}` });
    const earlier = seenKeys.get(checked.invoiceKey);
    if (earlier) errors.push({ field: at, message: `invoice ${checked.invoiceKey} also appears at row ${earlier}` });
    seenKeys.set(checked.invoiceKey, firstRow);
    if (departmentId && ruleErrors.length === 0) items.push({ departmentId, input: parsed.data, checked, row: firstRow });
  }
  const claimed = await db('receipts')
    .whereIn('invoice_key', [...seenKeys.keys()])
    .whereNot('status', 'withdrawn')
    .pluck('invoice_key');
  for (const key of claimed) errors.push({ field: `row ${seenKeys.get(key)}`, message: `invoice ${key} is already claimed` });
  return { items, errors };
}

/** Bulk import for accountants: CSV or XLSX, validated row by row, all or nothing. */
export async function importReceipts(db: Knex, ctx: RequestContext, fundId: string, sheet: Sheet) {
  if (!(await db('funds').where({ id: fundId }).first('id'))) throw new AppError('NOT_FOUND', '没有这项资金');
  const { items, errors } = await parseImport(db, ctx, sheet);
  if (errors.length) throw new AppError('CSV_INVALID', `文件有 ${errors.length} 处问题，未导入任何内容`, errors);
  return inTransaction(db, async (trx) => {
    const ids = await insertReceipts(trx, ctx.actor!, fundId, items);
    await recordAudit(trx, ctx, {
      action: 'receipt.import',
      objectType: 'fund',
      objectId: fundId,
      after: { receipts: ids.length, lines: items.reduce((n, i) => n + i.input.lines.length, 0) },
    });
    return { created: ids.length, receipt_ids: ids };
  });
}
