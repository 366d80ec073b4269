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

export function toCsv(table: Table): string {
  return `\uFEFF${csvLines(table, true)}`;
}

export async function toXlsx(tables: Table[]): Promise<Buffer> {
  // Loaded on first use: exceljs is large, and most processes never write a workbook.
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Jiangbu';
  for (const table of tables) {
    const ws = workbook.addWorksheet(table.name);
    ws.columns = table.columns.map((c) => ({
      header: c.header,
      key: c.key,
      width: c.width ?? (c.money ? 16 : 14),
      style: c.money ? { numFmt: '#,##0.00' } : {},
    }));
    ws.getRow(1).font = { bold: true };
    for (const r of table.rows) {
      // Excel holds numbers as doubles: exact to the fen for every amount below 10^13.
      ws.addRow(Object.fromEntries(table.columns.map((c) => [c.key, c.money && r[c.key] !== null ? Number(r[c.key]) : r[c.key]])));
    }
  }
  return Buffer.from(await workbook.xlsx.writeBuffer());
}
