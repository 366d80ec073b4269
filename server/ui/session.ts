import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Knex } from 'knex';
import { actorForToken } from '../auth/sessions.ts';
import type { Actor } from '../auth/roles.ts';

export const cookieName = 'jb_session';
export const csrfRefusal = '表单已过期或来源不明（CSRF 校验失败），请返回刷新后重试。';

function cookie(req: Request, wanted: string): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === wanted) {
      try {
        return decodeURIComponent(rest.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function sessionToken(req: Request): string | undefined {
  return cookie(req, cookieName);
}

const loginCsrfCookie = 'jb_login_csrf';

// This process's own key for sign-in form tokens: a restart only makes open sign-in forms reload.
const loginCsrfKey = randomBytes(32);
const loginCsrfToken = (nonce: string) => createHmac('sha256', loginCsrfKey).update(`login-csrf:${nonce}`).digest('base64url');

/**
 * The sign-in form has no session to derive a token from: a random nonce in a SameSite=Strict
 * cookie, and in the form the nonce's HMAC under a key only the server holds. A plain double submit
 * (any equal cookie and field) could be forged by whoever can plant a cookie (a sibling subdomain);
 * this token cannot be made without the key. A cross-site POST carries neither.
 */
export function loginCsrf(req: Request, res: Response): string {
  const existing = cookie(req, loginCsrfCookie);
  if (existing && /^[A-Za-z0-9_-]{32}$/.test(existing)) return loginCsrfToken(existing);
  const nonce = randomBytes(24).toString('base64url');
  res.cookie(loginCsrfCookie, nonce, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/login' });
  return loginCsrfToken(nonce);
}

export function loginCsrfMatches(req: Request, sent: unknown): boolean {
  const nonce = cookie(req, loginCsrfCookie);
  if (!nonce || typeof sent !== 'string') return false;
  const expected = loginCsrfToken(nonce);
  if (sent.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(sent), Buffer.from(expected));
}

/** Derived from the session token, which only the browser holding the cookie knows: no server state. */
export function csrfToken(sessionTokenValue: string): string {
  return createHash('sha256').update(`csrf:${sessionTokenValue}`).digest('base64url');
}

export function setSessionCookie(req: Request, res: Response, token: string, expiresAt: Date): void {
  res.cookie(cookieName, token, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', expires: expiresAt });
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(cookieName, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
}

declare module 'express-serve-static-core' {
  interface Request {
    csrf?: string;
    /** A multipart form whose `_csrf` field must come before its first file (uploads from the pages). */
    csrfInBody?: string;
  }
}

/** Pages need a signed-in user: an expired or revoked session goes back to the sign-in page. */
export function requireSession(db: Knex) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = sessionToken(req);
    const actor: Actor | null = token ? await actorForToken(db, token) : null;
    if (!actor || !token) {
      if (token) clearSessionCookie(req, res);
      return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}${token ? '&expired=1' : ''}`);
    }
    req.actor = actor;
    req.csrf = csrfToken(token);
    // Every form carries the token; a request without the right one is refused before anything changes.
    // Never in the URL, where address bars, histories and access logs would keep it.
    if (req.method === 'POST') {
      const sent = (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>)._csrf : undefined) ?? req.get('x-csrf-token');
      // An upload's body is streamed later: its first field must be the token, checked before any file is read (file-store).
      if (sent === undefined && /^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) req.csrfInBody = req.csrf;
      else if (sent !== req.csrf) return res.status(403).type('text/plain; charset=utf-8').send(csrfRefusal);
    }
    next();
  };
}
