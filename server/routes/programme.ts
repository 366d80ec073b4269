import type { Knex } from 'knex';
import { z } from 'zod';
import { contextOf } from '../http/context.ts';
import { json, route } from '../http/route.ts';
import { escalationList, target } from './responses/departments.ts';
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
        response: json(200, '{deadline, items:[{department_id, department_code, name, status, due}]}', escalationList),
      },
      async (_req, res, { query }) => {
        return res.json(await escalations(db, query.as_of ?? todayInShanghai()));
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
        response: json(200, 'the target', target),
      },
      async (req, res, { body }) => {
        return res.json(await setTarget(db, contextOf(req), body));
      },
    ),
  ];
}
