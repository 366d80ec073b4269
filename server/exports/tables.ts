import type { TitleBlock } from './title-block.ts';

export interface Column {
  header: string;
  key: string;
  /** Amounts: exact strings in CSV, numbers with two decimals in Excel. */
  money?: boolean;
  width?: number;
}

export type Row = Record<string, string | number | null>;

export interface Table {
  name: string;
  columns: Column[];
  rows: Row[];
  /** Lines above the header: the title, fund, document number, period, when and by whom. */
  title?: TitleBlock | undefined;
}

/** A cell that a spreadsheet would take for a formula gets a leading apostrophe (CSV injection). */
function safeText(v: string): string {
  return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

function csvCell(v: string | number | null, money: boolean): string {
  if (v === null) return '';
  const s = money ? String(v) : safeText(String(v));
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV in UTF-8 with a byte-order mark, so that Excel reads the Chinese headers. */
export function csvLines(table: Table, withHeader: boolean): string {
  const lines = table.rows.map((r) => table.columns.map((c) => csvCell(r[c.key] ?? null, Boolean(c.money))).join(','));
  if (withHeader) lines.unshift(table.columns.map((c) => csvCell(c.header, false)).join(','));
  return lines.map((l) => `${l}\r\n`).join('');
}

/** The title block as CSV lines (title, then label,value pairs), and an empty line before the table. */
export function csvTitle(title: TitleBlock | undefined): string {
  if (!title) return '';
  const lines = [csvCell(title.title, false), ...title.lines.map(([k, v]) => `${csvCell(k, false)},${csvCell(v, false)}`), ''];
  return lines.map((l) => `${l}\r\n`).join('');
}

export function toCsv(table: Table): string {
  return `\uFEFF${csvTitle(table.title)}${csvLines(table, true)}`;
}

export async function toXlsx(tables: Table[]): Promise<Buffer> {
  // Loaded on first use: exceljs is large, and most processes never write a workbook.
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Jiangbu';
  for (const table of tables) {
    const ws = workbook.addWorksheet(table.name);
    ws.columns = table.columns.map((c) => ({
      key: c.key,
      width: c.width ?? (c.money ? 16 : 14),
      style: c.money ? { numFmt: '#,##0.00' } : {},
    }));
    if (table.title) {
      ws.addRow([table.title.title]).font = { bold: true, size: 14 };
      ws.mergeCells(1, 1, 1, table.columns.length);
      for (const [k, v] of table.title.lines) ws.addRow([k, v]);
      ws.addRow([]);
    }
    const header = ws.addRow(table.columns.map((c) => c.header));
    header.font = { bold: true };
    // The header stays in view while the rows scroll, and prints on every page.
    ws.views = [{ state: 'frozen', ySplit: header.number }];
    ws.pageSetup.printTitlesRow = `${header.number}:${header.number}`;
    for (const r of table.rows) {
      // Excel holds numbers as doubles: exact to the fen for every amount below 10^13.
      ws.addRow(Object.fromEntries(table.columns.map((c) => [c.key, c.money && r[c.key] !== null ? Number(r[c.key]) : r[c.key]])));
    }
  }
  return Buffer.from(await workbook.xlsx.writeBuffer());
}
