import type { Request, Response } from 'express';
import type { Knex } from 'knex';
import { login } from '../../auth/login.ts';
import { revokeSession } from '../../auth/sessions.ts';
import { AppError } from '../../errors.ts';
import { contextOf } from '../../http/context.ts';
import { html } from '../html.ts';
import { formFields, page } from '../layout.ts';
import { clearSessionCookie, loginCsrf, loginCsrfMatches, setSessionCookie } from '../session.ts';

/** Only paths of this site: a `next` that points elsewhere is ignored. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?!\/)[^\s\\]*$/.test(next) ? next : '/';
}

export function loginPage(req: Request, res: Response, error?: string, status = 401): void {
  const next = safeNext(req.query.next ?? (req.body as Record<string, unknown> | undefined)?.next);
  const expired = req.query.expired === '1' ? '登录已过期，请重新登录。' : undefined;
  res.status(error ? status : 200).send(
    page(
      req,
      '登录',
      html`<form method="post" action="/login" class="login">
  ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
  <input type="hidden" name="next" value="${next}">
  <input type="hidden" name="_csrf" value="${loginCsrf(req, res)}">
  <label for="username">用户名</label><input id="username" name="username" autocomplete="username" required>
  <label for="password">密码</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <p><button>登录</button></p></form>`,
      { notice: expired },
    ),
  );
}

export function authPages(db: Knex, tokenTtlHours: number) {
  return {
    async login(req: Request, res: Response) {
      const body = formFields(req);
      // Login CSRF: another site must not sign a browser in under its own account.
      if (!loginCsrfMatches(req, body._csrf)) return loginPage(req, res, '表单已过期或来源不明，请重新登录。', 403);
      try {
        const session = await login(db, contextOf(req), String(body.username ?? ''), String(body.password ?? ''), tokenTtlHours);
        setSessionCookie(req, res, session.token, new Date(session.expires_at));
        res.redirect(303, safeNext(body.next));
      } catch (e) {
        if (!(e instanceof AppError)) throw e;
        loginPage(req, res, e.code === 'TOO_MANY_ATTEMPTS' || e.code === 'VALIDATION_FAILED' ? e.message : '用户名或密码错误。', e.status);
      }
    },
    async logout(req: Request, res: Response) {
      if (req.actor) await revokeSession(db, req.actor.sessionId);
      clearSessionCookie(req, res);
      res.redirect(303, '/login');
    },
  };
}
