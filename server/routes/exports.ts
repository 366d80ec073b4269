import type { Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { readDb } from '../db/read-pool.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { allocationRunTable, journalColumns, journalRows, trialBalanceTable } from '../exports/ledger-exports.ts';
import { csvLines, csvTitle, toCsv, toXlsx, type Table } from '../exports/tables.ts';
import { exportFileName, fundExportHeading } from '../exports/title-block.ts';
import { AppError } from '../errors.ts';
import { contentDisposition } from '../files/sniff.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { file, mediaTypes, route, written } from '../http/route.ts';
import { calendarDate, idParam } from '../http/schemas.ts';
import { xlsxMediaType } from '../http/body.ts';

const format = z.enum(['csv', 'xlsx']);
const xlsxRows_max = 1_000_000;

/** 2011 or 2011-01-01至2011-09-30: the period a ledger export covers, as its title and name say it. */
function periodOf(fiscalYear: number, from?: string, to?: string): string {
  if (!from && !to) return String(fiscalYear);
  return `${from ?? '起'}至${to ?? '今'}`;
}

async function sendTable(res: Response, table: Table, fmt: 'csv' | 'xlsx', baseName: string) {
  res.setHeader('Content-Disposition', contentDisposition('attachment', `${baseName}.${fmt}`));
  if (fmt === 'csv') res.type('text/csv; charset=utf-8').send(toCsv(table));
  else res.type(xlsxMediaType).send(await toXlsx([table]));
}

export function exportRoutes(db: Knex) {
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/journal.:format',
        action: 'exports.read',
        tag: 'exports',
        summary: 'The journal, one row per posting, as CSV (streamed) or XLSX',
        params: z.strictObject({ id: idParam, format }),
        query: z.strictObject({ from: calendarDate.optional(), to: calendarDate.optional() }),
        response: file('the table: CSV (UTF-8 with BOM) or XLSX, by the extension', mediaTypes.csv, mediaTypes.xlsx),
      },
      async (req, res, { params, query }) => {
        await recordAudit(db, contextOf(req), {
          action: 'export.journal',
          objectType: 'fund',
          objectId: params.id,
          after: { format: params.format, from: query.from ?? null, to: query.to ?? null },
        });
        const { block, fund } = await fundExportHeading(readDb(req), params.id, actorOf(req), '序时账', { label: '期间', text: '' });
        const period = periodOf(fund.fiscalYear, query.from, query.to);
        block.lines[2] = ['期间', query.from || query.to ? period : `${fund.fiscalYear}年度（全部凭证）`];
        const fileBase = exportFileName(fund.name, '序时账', period);
        const chunks = journalRows(readDb(req), params.id, query);
        if (params.format === 'csv') {
          const first = await chunks.next();
          res.setHeader('Content-Disposition', contentDisposition('attachment', `${fileBase}.csv`));
          res.type('text/csv; charset=utf-8');
          res.write(`\uFEFF${csvTitle(block)}${csvLines({ name: '', columns: journalColumns, rows: first.done ? [] : first.value }, true)}`);
          for await (const rows of chunks) res.write(csvLines({ name: '', columns: journalColumns, rows }, false));
          res.end();
          return written(res);
        }
        const rows: Table['rows'] = [];
        for await (const chunk of chunks) {
          rows.push(...chunk);
          if (rows.length > xlsxRows_max)
            throw new AppError('VALIDATION_FAILED', '序时账分录超过一个工作表的容量，请下载 CSV', [{ field: 'format', message: '请选择 csv' }]);
        }
        await sendTable(res, { name: '序时账', columns: journalColumns, rows, title: block }, 'xlsx', fileBase);
        return written(res);
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/trial-balance.:format',
        action: 'exports.read',
        tag: 'exports',
        summary: 'The trial balance as CSV or XLSX',
        params: z.strictObject({ id: idParam, format }),
        query: z.strictObject({ as_of: calendarDate.optional() }),
        response: file('the table: CSV (UTF-8 with BOM) or XLSX, by the extension', mediaTypes.csv, mediaTypes.xlsx),
      },
      async (req, res, { params, query }) => {
        await recordAudit(db, contextOf(req), {
          action: 'export.trial_balance',
          objectType: 'fund',
          objectId: params.id,
          after: { format: params.format, as_of: query.as_of ?? null },
        });
        const { block, fund } = await fundExportHeading(readDb(req), params.id, actorOf(req), '试算平衡表', { label: '截至', text: query.as_of ?? '今日' });
        const table = await trialBalanceTable(readDb(req), params.id, query.as_of);
        await sendTable(res, { ...table, title: block }, params.format, exportFileName(fund.name, '试算平衡表', query.as_of ?? String(fund.fiscalYear)));
        return written(res);
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/allocation-runs/:id/lines.:format',
        action: 'exports.read',
        tag: 'exports',
        summary: 'An allocation run’s lines as CSV or XLSX',
        params: z.strictObject({ id: idParam, format }),
        query: z.strictObject({}),
        response: file('the table: CSV (UTF-8 with BOM) or XLSX, by the extension', mediaTypes.csv, mediaTypes.xlsx),
      },
      async (req, res, { params }) => {
        await recordAudit(db, contextOf(req), {
          action: 'export.allocation_run',
          objectType: 'allocation_run',
          objectId: params.id,
          after: { format: params.format },
        });
        const reads = readDb(req);
        const table = await allocationRunTable(reads, params.id);
        const run = await reads('allocation_runs').where({ id: params.id }).first('fund_id', 'as_of');
        const { block, fund } = await fundExportHeading(reads, String(run.fund_id), actorOf(req), `分配方案（第 ${params.id} 批）`, {
          label: '计算截至',
          text: String(run.as_of),
        });
        await sendTable(res, { ...table, title: block }, params.format, exportFileName(fund.name, `分配方案第${params.id}批`, String(run.as_of)));
        return written(res);
      },
    ),
  ];
}
