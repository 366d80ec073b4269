import type { Knex } from 'knex';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.ts';
import { login } from '../auth/login.ts';
import { revokeSession } from '../auth/sessions.ts';
import { changeOwnPassword } from '../users/users.ts';
import { actorOf, contextOf } from '../http/context.ts';
import { empty, json, route } from '../http/route.ts';
import { me, session } from './responses/service.ts';

const credentials = z.strictObject({
  username: z.string().min(1, '请填写用户名').max(64),
  password: z.string().min(1, '请填写密码').max(256),
});

export function authRoutes(db: Knex, tokenTtlHours: number) {
  return [
    route(
      {
        method: 'post',
        path: '/api/v1/auth/login',
        action: 'auth.login',
        tag: 'auth',
        summary: 'Sign in; returns an opaque bearer token',
        body: credentials,
        response: json(200, '{token, expires_at, user}', session),
        errors: { 401: 'INVALID_CREDENTIALS', 429: 'TOO_MANY_ATTEMPTS' },
      },
      async (req, res, { body }) => {
        return res.json(await login(db, contextOf(req), body.username, body.password, tokenTtlHours));
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/auth/logout',
        action: 'auth.logout',
        tag: 'auth',
        summary: 'Revoke the token of this request',
        response: empty('signed out'),
      },
      async (req, res) => {
        const actor = actorOf(req);
        await revokeSession(db, actor.sessionId);
        await recordAudit(db, contextOf(req), { action: 'auth.logout', objectType: 'user', objectId: actor.id });
        return res.status(204).end();
      },
    ),
    route(
      {
        method: 'post',
        path: '/api/v1/auth/password',
        action: 'auth.password',
        tag: 'auth',
        summary: 'Change your own password (other sessions end)',
        body: z.strictObject({ current_password: z.string().min(1).max(256), new_password: z.string().max(256) }),
        response: empty('changed'),
        errors: { 422: 'VALIDATION_FAILED or WEAK_PASSWORD' },
      },
      async (req, res, { body }) => {
        await changeOwnPassword(db, contextOf(req), body.current_password, body.new_password);
        return res.status(204).end();
      },
    ),
    route(
      {
        method: 'get',
        path: '/api/v1/auth/me',
        action: 'auth.me',
        tag: 'auth',
        summary: 'Who the token belongs to',
        response: json(200, '{id, username, role, department_id}', me),
      },
      async (req, res) => {
        const a = actorOf(req);
        return res.json({ id: a.id, username: a.username, role: a.role, department_id: a.departmentId });
      },
    ),
  ];
}
