import type { Knex } from 'knex';
import { auditActionName, auditIp, auditObjectNames, auditRoleName } from '../audit/audit-names.ts';
import { listAudit, recordAudit, type AuditFilter } from '../audit/audit-log.ts';
import type { RequestContext } from '../http/context.ts';
import { csvLines, type Column, type Table } from './tables.ts';

/*
 * The audit log for auditors' working papers: Chinese action names and roles, the codes kept beside
 * them, and a title block (what, which filter, when, by whom) above the table in both formats.
 */

const export_rows_max = 100_000;
const chunk = 500;

const columns: Column[] = [
  { header: '时间（北京时间）', key: 'at', width: 20 },
  { header: '用户', key: 'user', width: 14 },
  { header: '角色', key: 'role', width: 10 },
  { header: '操作', key: 'action', width: 22 },
  { header: '操作代码', key: 'code', width: 24 },
  { header: '对象', key: 'object', width: 12 },
  { header: '对象编号', key: 'object_id', width: 22 },
  { header: '来源地址', key: 'ip', width: 16 },
  { header: '请求编号', key: 'request_id', width: 20 },
];

const beijingFormat = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'medium' });
const beijing = (at: Date) => beijingFormat.format(at);

/** The filter in words, for the title block. */
export function describeAuditFilter(f: AuditFilter): string {
  const parts = [
    f.actor_name ? `用户名含“${f.actor_name}”` : null,
    f.action ? `操作为${auditActionName(f.action)}` : null,
    f.object_type ? `对象为${auditObjectNames[f.object_type] ?? f.object_type}${f.object_id ? ` ${f.object_id}` : ''}` : null,
    f.from ? `自 ${beijing(new Date(f.from))}` : null,
    f.to ? `至 ${beijing(new Date(f.to))} 前` : null,
  ].filter(Boolean);
  return parts.length ? parts.join('，') : '全部记录';
}

/** Every matching event, newest first, at most export_rows_max (the title block says when there were more). */
async function auditRows(db: Knex, f: AuditFilter) {
  const rows: Table['rows'] = [];
  let cursor: string | undefined;
  let more: boolean;
  do {
    const page = await listAudit(db, { ...f, limit: chunk, cursor });
    for (const e of page.items)
      rows.push({
        at: beijing(e.at as Date),
        user: (e.actor_username as string | null) ?? '—',
        role: auditRoleName(e.actor_role as string | null),
        action: auditActionName(String(e.action)),
        code: String(e.action),
        object: e.object_type ? (auditObjectNames[String(e.object_type)] ?? String(e.object_type)) : '',
        object_id: (e.object_id as string | null) ?? '',
        ip: auditIp(e.ip as string | null),
        request_id: (e.request_id as string | null) ?? '',
      });
    cursor = page.next_cursor ?? undefined;
    more = Boolean(cursor) && rows.length >= export_rows_max;
  } while (cursor && !more);
  return { rows, truncated: more };
}

/** The export as a file: CSV (UTF-8 with BOM) or XLSX, title block first. Recorded in the log it exports. */
export async function exportAuditLog(db: Knex, ctx: RequestContext, f: AuditFilter, format: 'csv' | 'xlsx') {
  const { rows, truncated } = await auditRows(db, f);
  const generatedAt = beijing(new Date());
  const title = [
    ['审计日志'],
    ['筛选条件', describeAuditFilter(f)],
    ['记录数', `${rows.length}${truncated ? `（仅导出最新 ${export_rows_max} 条，请缩小筛选范围）` : ''}`],
    ['导出时间', `${generatedAt}（北京时间）`],
    ['导出人', `${ctx.actor?.username ?? '—'}（${auditRoleName(ctx.actor?.role ?? null)}）`],
  ];
  await recordAudit(db, ctx, { action: 'export.audit_log', after: { filter: f, rows: rows.length, format } });
  const fileName = `审计日志-${generatedAt.slice(0, 10)}.${format}`;
  const table: Table = { name: '审计日志', columns, rows };
  if (format === 'csv') {
    const block = title
      .map((line) =>
        csvLines(
          { name: '', columns: line.map((_, i) => ({ header: '', key: String(i) })), rows: [Object.fromEntries(line.map((v, i) => [String(i), v]))] },
          false,
        ),
      )
      .join('');
    return { fileName, contentType: 'text/csv; charset=utf-8', body: Buffer.from(`\uFEFF${block}\r\n${csvLines(table, true)}`, 'utf8') };
  }
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Jiangbu';
  const ws = workbook.addWorksheet(table.name);
  ws.columns = columns.map((c) => ({ key: c.key, width: c.width ?? 14 }));
  title.forEach((line, i) => {
    const row = ws.addRow(line);
    if (i === 0) row.font = { bold: true, size: 14 };
  });
  ws.addRow([]);
  const header = ws.addRow(columns.map((c) => c.header));
  header.font = { bold: true };
  for (const r of rows) ws.addRow(columns.map((c) => r[c.key]));
  return { fileName, contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', body: Buffer.from(await workbook.xlsx.writeBuffer()) };
}
