import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { workCount } from '../queues/work-queues.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** What waits for the signed-in user, shown beside 待办 in the navigation (pages read with GET only). */
    workCount?: number;
  }
}

/** The session check, then the queue count for the navigation of a page being shown. */
export function withWorkCount(db: Knex, session: RequestHandler): RequestHandler {
  return (req, res, next) =>
    session(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (!req.actor || req.method !== 'GET' || req.actor.role === 'admin') return next();
      workCount(db, req.actor).then((n) => {
        req.workCount = n;
        next();
      }, next);
    });
}
