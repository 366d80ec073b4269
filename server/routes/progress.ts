import type { Knex } from 'knex';
import { z } from 'zod';
import { readDb } from '../db/read-pool.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { acceptDepartments, changeStatus, statusHistory } from '../departments/status.ts';
import { departmentFields } from '../departments/department-rules.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { file, json, mediaTypes, route, written } from '../http/route.ts';
import { acceptance, deadline, department, progress, statusHistoryList, writtenReport, writtenReportList } from './responses/departments.ts';
import { calendarDate, idParam } from '../http/schemas.ts';
import { loadProgress } from '../progress/progress.ts';
import { issueBulletin } from '../progress/bulletins.ts';
import { documentIssuer, type Config } from '../config.ts';
import { fileWrittenReport, listWrittenReports, setDeadline } from '../progress/written-reports.ts';
import { contentDisposition } from '../files/sniff.ts';
import { witnessFileOf } from '../ledger/witness.ts';

const departmentId = z.strictObject({ id: idParam });

export function progressRoutes(
  db: Knex,
  config: { dataDir: string; witnessFile?: string | undefined } & Partial<Pick<Config, 'bulletinIssuer' | 'bulletinDocumentPrefix'>> = { dataDir: '.' },
) {
  return [
    route(
      {
        method: 'put',
        path: '/api/v1/departments/:id/status',
        action: 'departments.status_write',
        tag: 'progress',
        summary: 'Record a status change; only an accountant records acceptance (accepted_on, 验收)',
        params: departmentId,
        body: z.strictObject({
          status: departmentFields.status,
          effective_date: calendarDate,
          note: z.string().max(1000, '最多 1000 个字符').optional(),
          accepted_on: calendarDate.optional(),
        }),
        response: json(200, 'the department', department),
        errors: {
          403: 'FORBIDDEN (acceptance by a department)',
          409: 'CONFLICT (accepted unit) or STATUS_REGRESSION (a unit moving back)',
          422: 'VALIDATION_FAILED (an accountant moving back without a reason)',
        },
      },
      async (req, res, { params, body }) => {
        return res.json(await changeStatus(db, contextOf(req), params.id, body));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/departments/acceptance',
        action: 'departments.accept',
        tag: 'progress',
        summary: 'Record acceptance (验收) of many completed units at once, all or none',
        body: z.strictObject({ department_ids: z.array(idParam).min(1, '请至少选择一个单位').max(5000, '一次最多 5000 个单位'), accepted_on: calendarDate }),
        response: json(200, '{accepted, accepted_on, items}', acceptance),
        errors: { 404: 'NOT_FOUND: a unit id that does not exist', 409: 'CONFLICT naming each unit that cannot be accepted' },
      },
      async (req, res, { body }) => {
        return res.json(await acceptDepartments(db, contextOf(req), body.department_ids, body.accepted_on));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id/status-history',
        action: 'departments.status_read',
        tag: 'progress',
        summary: "A department's status changes, latest first",
        params: departmentId,
        response: json(200, '{items}', statusHistoryList),
      },
      async (req, res, { params }) => {
        return res.json(await statusHistory(db, actorOf(req), params.id));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/progress',
        action: 'progress.read',
        tag: 'progress',
        summary: 'Counts and rates by status and group, unit lists, written reports owed and overdue',
        query: z.strictObject({ as_of: calendarDate.optional() }),
        response: json(200, 'the progress report', progress),
      },
      async (req, res, { query }) => {
        return res.json(await loadProgress(readDb(req), query.as_of));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/progress/bulletin.pdf',
        action: 'progress.bulletin',
        tag: 'progress',
        summary: 'The progress bulletin (通报) as PDF',
        query: z.strictObject({ as_of: calendarDate.optional() }),
        response: file('the PDF', mediaTypes.pdf),
      },
      async (req, res, { query }) => {
        const b = await issueBulletin(db, contextOf(req), query.as_of, witnessFileOf(config), {
          issuer: config.bulletinIssuer ?? documentIssuer().bulletinIssuer,
          documentPrefix: config.bulletinDocumentPrefix ?? documentIssuer().bulletinDocumentPrefix,
        });
        await recordAudit(db, contextOf(req), {
          action: 'progress.bulletin_download',
          objectType: 'bulletin',
          objectId: b.documentNo,
          after: { sha256: b.sha256 },
        });
        res.setHeader('X-Document-SHA256', b.sha256);
        res.setHeader('X-Bulletin-No', encodeURIComponent(b.documentNo));
        res.setHeader('X-Bulletin-Issue', String(b.issueNo));
        res.type('application/pdf').setHeader('Content-Disposition', contentDisposition('attachment', `软件正版化工作快报-第${b.issueNo}期.pdf`));
        res.send(b.pdf);
        return written(res);
      },
    ),
    route(
      {
        method: 'put',
        path: '/api/v1/progress/deadline',
        action: 'progress.deadline',
        tag: 'progress',
        summary: 'Set the date after which units not started owe a written report',
        body: z.strictObject({ deadline: calendarDate, title: z.string().trim().min(1).max(200) }),
        response: json(200, 'the deadline', deadline),
      },
      async (req, res, { body }) => {
        return res.json(await setDeadline(db, contextOf(req), body));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/departments/:id/written-reports',
        action: 'written_reports.file',
        tag: 'progress',
        summary: 'File the written explanation (专题书面报告) a unit not started owes',
        params: departmentId,
        body: z.strictObject({ body: z.string().trim().min(1, '不能为空').max(20000) }),
        response: json(201, 'the report', writtenReport),
        errors: { 409: 'CONFLICT or DUPLICATE' },
      },
      async (req, res, { params, body }) => {
        return res.status(201).json(await fileWrittenReport(db, contextOf(req), params.id, body.body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/departments/:id/written-reports',
        action: 'written_reports.read',
        tag: 'progress',
        summary: "A department's written reports",
        params: departmentId,
        response: json(200, '{items}', writtenReportList),
      },
      async (req, res, { params }) => {
        return res.json(await listWrittenReports(db, actorOf(req), params.id));
      },
    ),
  ];
}
