import type { Knex } from 'knex';
import { z } from 'zod';
import { listAudit } from '../audit/audit-log.ts';
import { exportAuditLog } from '../exports/audit-export.ts';
import { contentDisposition } from '../files/sniff.ts';
import { contextOf } from '../http/context.ts';
import { file, json, mediaTypes, route, written } from '../http/route.ts';
import { auditPage } from './responses/service.ts';
import { cursorParam, idParam, limitParam } from '../http/schemas.ts';

/** A time PostgreSQL can compare with: years 1900–2999 (the dates' range) and an offset no wider than the world's (±14:00). */
const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time such as 2011-09-20T00:00:00+08:00' }).refine((s) => {
  const year = Number(s.slice(0, 4));
  const offset = /([+-])([0-9]{2}):?([0-9]{2})$/.exec(s);
  return year >= 1900 && year <= 2999 && (!offset || Number(offset[2]) * 60 + Number(offset[3]) <= 14 * 60);
}, 'must be a time from 1900 to 2999, with an offset of at most ±14:00');

export function auditLogRoutes(db: Knex) {
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/audit-log',
        action: 'audit.read',
        tag: 'audit',
        summary: 'The audit log, newest first; actor is part of a user name (any case)',
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          actor_id: idParam.optional(),
          actor: z.string().trim().min(1).max(64).optional(),
          action: z.string().max(100).optional(),
          object_type: z.string().max(100).optional(),
          object_id: z.string().max(100).optional(),
          from: instant.optional(),
          to: instant.optional(),
        }),
        response: json(200, '{items, next_cursor}', auditPage),
      },
      async (_req, res, { query }) => {
        const { actor, ...rest } = query;
        const page = await listAudit(db, { ...rest, actor_name: actor, limit: query.limit ?? 100 });
        return res.json({
          items: page.items.map((r) => ({
            ...r,
            id: String(r.id),
            actor_id: r.actor_id == null ? null : String(r.actor_id),
            at: (r.at as Date).toISOString(),
          })),
          next_cursor: page.next_cursor,
        });
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/audit-log/export',
        action: 'audit.read',
        tag: 'audit',
        summary:
          'The audit log as a file for working papers (format=xlsx or csv): a title block (filter, count, generated at, by whom), then Chinese action and role names beside the codes; same filters as the list',
        query: z.strictObject({
          format: z.enum(['xlsx', 'csv']),
          actor: z.string().trim().min(1).max(64).optional(),
          action: z.string().max(100).optional(),
          object_type: z.string().max(100).optional(),
          object_id: z.string().max(100).optional(),
          from: instant.optional(),
          to: instant.optional(),
        }),
        response: file('the file (Content-Disposition attachment)', mediaTypes.xlsx, mediaTypes.csv),
      },
      async (req, res, { query }) => {
        const { format, actor, ...rest } = query;
        const exported = await exportAuditLog(db, contextOf(req), { ...rest, actor_name: actor }, format);
        res.setHeader('Content-Type', exported.contentType);
        res.setHeader('Content-Disposition', contentDisposition('attachment', exported.fileName));
        res.send(exported.body);
        return written(res);
      },
    ),
  ];
}
