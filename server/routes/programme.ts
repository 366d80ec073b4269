import type { Knex } from 'knex';
import { z } from 'zod';
import { contextOf } from '../http/context.ts';
import { route } from '../http/route.ts';
import { calendarDate, todayInShanghai } from '../http/schemas.ts';
import { escalations, setTarget, targetBody } from '../progress/programme.ts';

/** The leading group's view of the programme: who owes an in-person report, and the target. */
export function programmeRoutes(db: Knex) {
  return [
    route(
      {
        method: 'get',
        path: '/api/v1/progress/escalations',
        action: 'progress.escalations',
        tag: 'progress',
        summary: 'Units owing an in-person report: not started, no written report, past the deadline',
        query: z.strictObject({ as_of: calendarDate.optional() }),
        responses: { 200: '{deadline, items:[{department_id, department_code, name, status, due}]}' },
      },
      async (_req, res, { query }) => {
        res.json(await escalations(db, query.as_of ?? todayInShanghai()));
      },
    ),
    route(
      {
        method: 'put',
        path: '/api/v1/progress/target',
        action: 'progress.target',
        tag: 'progress',
        summary: "Set the programme's target date and rate (e.g. 1.0000 by 2011-10-31)",
        body: targetBody,
        responses: { 200: 'the target', 422: 'VALIDATION_FAILED' },
      },
      async (req, res, { body }) => {
        res.json(await setTarget(db, contextOf(req), body));
      },
    ),
  ];
}
