import type { Knex } from 'knex';
import { unavailable } from '../db/translate-error.ts';
import { json, route } from '../http/route.ts';
import { health } from './responses/service.ts';

export function healthRoutes(db: Knex) {
  return [
    route(
      {
        method: 'get',
        path: '/healthz',
        action: 'health.read',
        tag: 'service',
        summary: 'Answers once the database answers',
        response: json(200, '{status:"ok"}', health),
      },
      async (_req, res) => {
        try {
          await db.raw('SELECT 1');
        } catch {
          throw unavailable();
        }
        return res.json({ status: 'ok' });
      },
    ),
  ];
}
