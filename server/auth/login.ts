import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { reserveSignIn, signInSucceeded } from './login-throttle.ts';
import { burnVerification, verifyPassword } from './passwords.ts';
import { openSession } from './sessions.ts';

export async function login(db: Knex, ctx: RequestContext, username: string, password: string, ttlHours: number) {
  const audit = (action: string, objectId: string | null, after?: object) =>
    recordAudit(db, ctx, { action, objectType: 'user', objectId, after: { username, ...after } });
  try {
    await reserveSignIn(db, username, ctx.ip);
  } catch (e) {
    if (e instanceof AppError) await audit('auth.login_throttled', null);
    throw e;
  }
  const user = await db('users').whereRaw('lower(username) = lower(?)', [username]).first();
  const ok = user ? await verifyPassword(user.password_hash, password) : (await burnVerification(password), false);
  if (!ok || user.disabled) {
    await audit('auth.login_failed', user ? String(user.id) : null, { reason: user?.disabled ? 'disabled' : 'bad_credentials' });
    throw new AppError('INVALID_CREDENTIALS');
  }
  await signInSucceeded(db, username, ctx.ip);
  const session = await openSession(db, String(user.id), ttlHours, ctx.ip);
  await recordAudit(
    db,
    { ...ctx, actor: { id: String(user.id), username: user.username, role: user.role, departmentId: user.department_id, sessionId: session.sessionId } },
    {
      action: 'auth.login',
      objectType: 'user',
      objectId: String(user.id),
    },
  );
  return {
    token: session.token,
    expires_at: session.expiresAt.toISOString(),
    user: {
      id: String(user.id),
      username: user.username,
      role: user.role,
      department_id: user.department_id == null ? null : String(user.department_id),
    },
  };
}
