import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { recordAudit } from '../audit/audit-log.ts';
import { assertPasswordPolicy, hashPassword, verifyPassword } from '../auth/passwords.ts';
import type { Role } from '../auth/roles.ts';
import { revokeSessionsOf, sessionsChanged } from '../auth/sessions.ts';
import { inTransaction } from '../db/transaction.ts';
import { AppError, validationError } from '../errors.ts';
import type { RequestContext } from '../http/context.ts';
import { pageOf } from '../db/pagination.ts';

const publicColumns = ['id', 'username', 'role', 'department_id', 'disabled', 'created_at', 'updated_at'];

export interface UserView {
  id: string;
  username: string;
  role: Role;
  department_id: string | null;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

function view(row: Record<string, unknown>): UserView {
  return {
    id: String(row.id),
    username: String(row.username),
    role: row.role as Role,
    department_id: row.department_id == null ? null : String(row.department_id),
    disabled: Boolean(row.disabled),
    created_at: (row.created_at as Date).toISOString(),
    updated_at: (row.updated_at as Date).toISOString(),
  };
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  department_id?: string | undefined;
}

/** `demo`: the demo's own users, whose published password the policy refuses for anyone else. */
export async function createUser(db: Knex, ctx: RequestContext, input: NewUser, opts: { demo?: boolean } = {}): Promise<UserView> {
  if (!opts.demo) assertPasswordPolicy(input.password, input.username);
  if (input.role === 'department' && !input.department_id) throw validationError('department_id', '单位用户须指定所属单位');
  if (input.role !== 'department' && input.department_id) throw validationError('department_id', '只有单位用户才指定所属单位');
  const passwordHash = await hashPassword(input.password);
  return inTransaction(db, async (trx) => {
    const department = input.department_id ? await trx('departments').where({ id: input.department_id }).first('id', 'active') : null;
    if (input.department_id && !department) throw validationError('department_id', '没有这个单位');
    if (department && !department.active) throw validationError('department_id', '该单位已停用，不能再绑定用户');
    const [row] = await trx('users')
      .insert({ username: input.username, password_hash: passwordHash, role: input.role, department_id: input.department_id ?? null })
      .returning(publicColumns);
    const user = view(row);
    await recordAudit(trx, ctx, { action: 'user.create', objectType: 'user', objectId: user.id, after: user });
    return user;
  });
}

/** Users page by page; `q` searches the username and the bound unit's code or name. */
export async function listUsers(db: Knex, limit: number, cursor?: string, search?: string) {
  const q = db('users as u')
    .leftJoin('departments as d', 'd.id', 'u.department_id')
    .select(publicColumns.map((c) => `u.${c}`).concat(['d.code as department_code', 'd.name as department_name']))
    .orderBy('u.id')
    .limit(limit + 1);
  if (cursor) q.where('u.id', '>', cursor);
  const text = search?.trim().toLowerCase();
  if (text) {
    const like = text.replace(/[\\%_]/g, (c) => `\\${c}`);
    q.where((w) =>
      w
        .whereRaw('lower(u.username) LIKE ?', [`%${like}%`])
        .orWhereRaw('lower(d.code) LIKE ?', [`${like}%`])
        .orWhereRaw('lower(d.name) LIKE ?', [`%${like}%`]),
    );
  }
  const rows = await q;
  return pageOf(
    rows.map((r) => ({ ...view(r), department_code: r.department_code ?? null, department_name: r.department_name ?? null })),
    limit,
    (u) => u.id,
  );
}

export interface UserChange {
  disabled?: boolean | undefined;
  password?: string | undefined;
}

export async function updateUser(db: Knex, ctx: RequestContext, id: string, change: UserChange): Promise<UserView> {
  const existing = await db('users').where({ id }).first(publicColumns);
  if (!existing) throw new AppError('NOT_FOUND', '没有这个用户');
  if (change.password !== undefined) assertPasswordPolicy(change.password, existing.username);
  if (change.disabled && ctx.actor?.id === String(id)) throw new AppError('CONFLICT', '不能停用自己的账号');
  const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
  const updated = await inTransaction(db, async (trx) => {
    const before = view(await trx('users').where({ id }).forUpdate().first(publicColumns));
    const [row] = await trx('users')
      .where({ id })
      .update({
        ...(change.disabled === undefined ? {} : { disabled: change.disabled }),
        ...(passwordHash === undefined ? {} : { password_hash: passwordHash }),
        updated_at: trx.fn.now(),
      })
      .returning(publicColumns);
    if (change.disabled || passwordHash !== undefined) await revokeSessionsOf(trx, id);
    const after = view(row);
    await recordAudit(trx, ctx, {
      action: 'user.update',
      objectType: 'user',
      objectId: id,
      before,
      after: { ...after, ...(passwordHash === undefined ? {} : { password_changed: true }) },
    });
    return after;
  });
  sessionsChanged(db, { userId: id });
  return updated;
}

/** First start with no users: create `admin` from BOOTSTRAP_ADMIN_PASSWORD or a generated password printed once. */
export async function bootstrapAdmin(db: Knex, configured: string | undefined, print: (line: string) => void): Promise<void> {
  if (await db('users').first('id')) return;
  const password = configured ?? randomBytes(12).toString('base64url');
  await createUser(db, { actor: null, requestId: 'bootstrap', ip: 'local' }, { username: 'admin', password, role: 'admin' });
  if (configured) print('created user "admin" with the password from BOOTSTRAP_ADMIN_PASSWORD');
  else print(`created user "admin" with the generated password: ${password}  (shown once; change it after signing in)`);
}

/** A signed-in user changes their own password; the current one is asked again, and other sessions end. */
export async function changeOwnPassword(db: Knex, ctx: RequestContext, current: string, next: string): Promise<void> {
  const actor = ctx.actor!;
  const user = await db('users').where({ id: actor.id }).first('password_hash', 'username');
  if (!user || !(await verifyPassword(user.password_hash, current))) {
    throw new AppError('VALIDATION_FAILED', '当前密码：当前密码不正确', [{ field: 'current_password', message: '当前密码不正确' }]);
  }
  assertPasswordPolicy(next, user.username);
  const hash = await hashPassword(next);
  await inTransaction(db, async (trx) => {
    await trx('users').where({ id: actor.id }).update({ password_hash: hash, updated_at: trx.fn.now() });
    await trx('sessions').where({ user_id: actor.id }).whereNot({ id: actor.sessionId }).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
    await recordAudit(trx, ctx, { action: 'user.password_change', objectType: 'user', objectId: actor.id, after: { password_changed: true } });
  });
  sessionsChanged(db, { userId: actor.id });
}
