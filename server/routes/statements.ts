import type { Response } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { documentIssuer, type Config } from '../config.ts';
import { readUploadedBytes } from '../files/file-store.ts';
import { contentDisposition } from '../files/sniff.ts';
import { contextOf } from '../http/context.ts';
import { file, json, mediaTypes, route, written } from '../http/route.ts';
import { statementCheck, statementRecord } from './responses/service.ts';
import { idParam } from '../http/schemas.ts';
import { witnessFileOf } from '../ledger/witness.ts';
import { issueStatement, statementByNumber, verifyStatement, type IssuedStatement } from '../statements/statements.ts';

function sendPdf(res: Response, s: IssuedStatement, fileName: string): void {
  res.setHeader('Content-Type', 'application/pdf');
  res.setHeader('Content-Disposition', contentDisposition('attachment', fileName));
  res.setHeader('X-Statement-No', s.statementNo);
  res.setHeader('X-Statement-Sha256', s.sha256);
  // Printed as 〓 and named in the document's footer; here too, for whoever downloads it.
  if (s.unprintable.length > 0)
    res.setHeader('X-Unprintable-Characters', s.unprintable.map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase()}`).join(','));
  res.send(s.pdf);
}

export function statementRoutes(
  db: Knex,
  config: Pick<Config, 'uploadMaxBytes' | 'dataDir'> & { witnessFile?: string | undefined } & Partial<Pick<Config, 'issuingOffice'>>,
) {
  const issuer = { office: config.issuingOffice ?? documentIssuer().issuingOffice };
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/departments/:dept/statement.pdf',
        action: 'statements.department',
        tag: 'statements',
        summary: 'A unit’s disbursement statement (资金拨付通知书); the same content is the same statement, byte for byte',
        params: z.strictObject({ id: idParam, dept: idParam }),
        response: file('the PDF', mediaTypes.pdf),
        errors: { 404: 'NOT_FOUND (also another department)' },
      },
      async (req, res, { params }) => {
        const s = await issueStatement(db, contextOf(req), params.id, { kind: 'department', departmentId: params.dept }, witnessFileOf(config), issuer);
        sendPdf(res, s, `资金拨付通知书-${s.statementNo}.pdf`);
        return written(res);
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/funds/:id/summary.pdf',
        action: 'statements.read',
        tag: 'statements',
        summary: 'The fund summary: totals and one row per unit (omit_empty=1 leaves out units with nothing allocated, paid, payable or to recover)',
        params: z.strictObject({ id: idParam }),
        query: z.strictObject({ omit_empty: z.enum(['0', '1'], { error: '须为 0 或 1' }).optional() }),
        response: file('the PDF', mediaTypes.pdf),
      },
      async (req, res, { params, query }) => {
        const s = await issueStatement(db, contextOf(req), params.id, { kind: 'summary', omitEmpty: query.omit_empty === '1' }, witnessFileOf(config), issuer);
        sendPdf(res, s, `资金汇总表-${s.statementNo}.pdf`);
        return written(res);
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/statements/verify',
        action: 'statements.read',
        tag: 'statements',
        bodyType: 'multipart',
        summary: 'Is this PDF a genuine, unaltered statement? (multipart field "file")',
        response: json(
          200,
          '{genuine, statement_no, superseded_by, problem?}: not genuine when unknown, altered, or its chain head is no longer in the ledger',
          statementCheck,
        ),
      },
      async (req, res) => {
        return res.json(await verifyStatement(db, contextOf(req), await readUploadedBytes(req, config.uploadMaxBytes), witnessFileOf(config)));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/statements/:no',
        action: 'statements.read',
        tag: 'statements',
        summary: 'A statement’s record, to check a printed copy’s QR code against',
        params: z.strictObject({ no: z.string().regex(/^[A-Za-z0-9_.-]{1,80}$/, 'is not a statement number') }),
        response: json(200, 'the record', statementRecord),
      },
      async (_req, res, { params }) => {
        return res.json(await statementByNumber(db, params.no));
      },
    ),
  ];
}
