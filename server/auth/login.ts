import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { burnVerification, verifyPassword } from './passwords.ts';
import { openSession } from './sessions.ts';

const failures_max = 10;
const failureWindow_minutes = 15;

async function isThrottled(db: Knex, username: string, ip: string): Promise<boolean> {
  const since = db.raw(`now() - interval '${failureWindow_minutes} minutes'`);
  const [byUser, byIp] = await Promise.all([
    db('login_failures').whereRaw('lower(username) = lower(?)', [username]).where('at', '>', since).count<{ n: string }[]>('* as n'),
    db('login_failures').where('ip', ip).where('at', '>', since).count<{ n: string }[]>('* as n'),
  ]);
  return Number(byUser[0]!.n) >= failures_max || Number(byIp[0]!.n) >= failures_max;
}

export async function login(db: Knex, ctx: RequestContext, username: string, password: string, ttlHours: number) {
  const audit = (action: string, objectId: string | null, after?: object) =>
    recordAudit(db, ctx, { action, objectType: 'user', objectId, after: { username, ...after } });
  if (await isThrottled(db, username, ctx.ip)) {
    await audit('auth.login_throttled', null);
    throw new AppError('TOO_MANY_ATTEMPTS', `登录失败次数过多，请 ${failureWindow_minutes} 分钟后再试`, undefined, {
      'Retry-After': String(failureWindow_minutes * 60),
    });
  }
  const user = await db('users').whereRaw('lower(username) = lower(?)', [username]).first();
  const ok = user ? await verifyPassword(user.password_hash, password) : (await burnVerification(password), false);
  if (!ok || user.disabled) {
    await db('login_failures').insert({ username, ip: ctx.ip });
    await audit('auth.login_failed', user ? String(user.id) : null, { reason: user?.disabled ? 'disabled' : 'bad_credentials' });
    throw new AppError('INVALID_CREDENTIALS');
  }
  const session = await openSession(db, String(user.id), ttlHours, ctx.ip);
  await recordAudit(db, { ...ctx, actor: { id: String(user.id), username: user.username, role: user.role, departmentId: user.department_id, sessionId: session.sessionId } }, {
    action: 'auth.login',
    objectType: 'user',
    objectId: String(user.id),
  });
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
