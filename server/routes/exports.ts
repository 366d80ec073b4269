import type { Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import { allocationRunTable, journalColumns, journalRows, trialBalanceTable } from '../exports/ledger-exports.ts';
import { csvLines, toCsv, toXlsx, type Table } from '../exports/tables.ts';
import { AppError } from '../errors.ts';
import { contentDisposition } from '../files/sniff.ts';
import { contextOf } from '../http/context.ts';
import { file, mediaTypes, route, written } from '../http/route.ts';
import { calendarDate, idParam } from '../http/schemas.ts';
import { xlsxMediaType } from '../http/body.ts';

const format = z.enum(['csv', 'xlsx']);
const xlsxRows_max = 1_000_000;

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
        const chunks = journalRows(db, params.id, query);
        if (params.format === 'csv') {
          const first = await chunks.next();
          res.setHeader('Content-Disposition', contentDisposition('attachment', `journal-${params.id}.csv`));
          res.type('text/csv; charset=utf-8');
          res.write(`\uFEFF${csvLines({ name: '', columns: journalColumns, rows: first.done ? [] : first.value }, true)}`);
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
        await sendTable(res, { name: '序时账', columns: journalColumns, rows }, 'xlsx', `journal-${params.id}`);
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
        await sendTable(
          res,
          await trialBalanceTable(db, params.id, query.as_of),
          params.format,
          `trial-balance-${params.id}${query.as_of ? `-${query.as_of}` : ''}`,
        );
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
        await sendTable(res, await allocationRunTable(db, params.id), params.format, `allocation-run-${params.id}`);
        return written(res);
      },
    ),
  ];
}
