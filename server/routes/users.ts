import type { Knex } from 'knex';
import { z } from 'zod';
import { roles } from '../auth/roles.ts';
import { contextOf } from '../http/context.ts';
import { json, route } from '../http/route.ts';
import { user, userPage } from './responses/service.ts';
import { cursorParam, idParam, limitParam } from '../http/schemas.ts';
import { createUser, listUsers, updateUser } from '../users/users.ts';

export function userRoutes(db: Knex) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/users',
        action: 'users.create',
        tag: 'users',
        summary: 'Create a user',
        body: z.strictObject({
          username: z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, '须为 3–64 位字母、数字、“.”、“_”或“-”'),
          password: z.string().max(256),
          role: z.enum(roles),
          department_id: idParam.optional(),
        }),
        response: json(201, 'the user', user),
        errors: { 409: 'DUPLICATE', 422: 'WEAK_PASSWORD or VALIDATION_FAILED' },
      },
      async (req, res, { body }) => {
        return res.status(201).json(await createUser(db, contextOf(req), body));
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/users',
        action: 'users.list',
        tag: 'users',
        summary: 'List users; q searches the username and the unit’s code or name',
        query: z.strictObject({ limit: limitParam, cursor: cursorParam, q: z.string().max(200, '最多 200 个字符').optional() }),
        response: json(200, '{items, next_cursor}', userPage),
      },
      async (_req, res, { query }) => {
        return res.json(await listUsers(db, query.limit ?? 100, query.cursor, query.q));
      },
    ),
    route(
      {
        method: 'patch',
        path: '/api/v1/users/:id',
        action: 'users.update',
        tag: 'users',
        summary: 'Disable, enable or reset the password of a user',
        params: z.strictObject({ id: idParam }),
        body: z.strictObject({ disabled: z.boolean().optional(), password: z.string().max(256).optional() }),
        response: json(200, 'the user', user),
        errors: { 409: 'CONFLICT: an administrator cannot disable their own account' },
      },
      async (req, res, { params, body }) => {
        return res.json(await updateUser(db, contextOf(req), params.id, body));
      },
    ),
  ];
}
