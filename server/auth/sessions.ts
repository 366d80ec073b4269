import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Actor, Role } from './roles.ts';

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Opens a session; the token is returned once and only its SHA-256 is stored. */
export async function openSession(db: Knex, userId: string, ttlHours: number, ip: string) {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlHours * 3_600_000);
  const [row] = await db('sessions')
    .insert({ user_id: userId, token_hash: digest(token), expires_at: expiresAt, ip })
    .returning(['id']);
  return { token, sessionId: String(row.id), expiresAt };
}

/** The signed-in actor for a bearer token, or null if the token is unknown, expired, revoked or its user disabled. */
export async function actorForToken(db: Knex, token: string): Promise<Actor | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const row = await db('sessions as s')
    .join('users as u', 'u.id', 's.user_id')
    .where('s.token_hash', digest(token))
    .whereNull('s.revoked_at')
    .where('s.expires_at', '>', db.fn.now())
    .where('u.disabled', false)
    .first('s.id as session_id', 'u.id', 'u.username', 'u.role', 'u.department_id');
  if (!row) return null;
  return {
    id: String(row.id),
    username: row.username,
    role: row.role as Role,
    departmentId: row.department_id == null ? null : String(row.department_id),
    sessionId: String(row.session_id),
  };
}

export async function revokeSession(db: Knex, sessionId: string): Promise<void> {
  await db('sessions').where({ id: sessionId }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
}

export async function revokeSessionsOf(db: Knex, userId: string): Promise<void> {
  await db('sessions').where({ user_id: userId }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
}
