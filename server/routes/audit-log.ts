import type { Knex } from 'knex';
import { z } from 'zod';
import { listAudit } from '../audit/audit-log.ts';
import { json, route } from '../http/route.ts';
import { auditPage } from './responses/service.ts';
import { cursorParam, idParam, limitParam } from '../http/schemas.ts';

const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time such as 2011-09-20T00:00:00+08:00' });

export function auditLogRoutes(db: Knex) {
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/audit-log',
        action: 'audit.read',
        tag: 'audit',
        summary: 'The audit log, newest first',
        query: z.strictObject({
          limit: limitParam,
          cursor: cursorParam,
          actor_id: idParam.optional(),
          action: z.string().max(100).optional(),
          object_type: z.string().max(100).optional(),
          object_id: z.string().max(100).optional(),
          from: instant.optional(),
          to: instant.optional(),
        }),
        response: json(200, '{items, next_cursor}', auditPage),
      },
      async (_req, res, { query }) => {
        const page = await listAudit(db, { ...query, limit: query.limit ?? 100 });
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
  ];
}
