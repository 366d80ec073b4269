import type { Knex } from 'knex';
import { unavailable } from '../db/translate-error.ts';
import { route } from '../http/route.ts';

export function healthRoutes(db: Knex) {
  return [
    route(
      {
        method: 'get',
        path: '/healthz',
        action: 'health.read',
        tag: 'service',
        summary: 'Answers once the database answers',
        responses: { 200: '{status:"ok"}', 503: 'database unreachable' },
      },
      async (_req, res) => {
        try {
          await db.raw('SELECT 1');
        } catch {
          throw unavailable();
        }
        res.json({ status: 'ok' });
      },
    ),
  ];
}
