import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Actor, Role } from './roles.ts';
import type pg from 'pg';
import { SessionCache, type CachedSession, type SessionCacheOptions } from './session-cache.ts';

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

const caches = new WeakMap<Knex, SessionCache>();

/**
 * Starts this instance's session cache beside the pool `db`: `actorForToken(db, …)` answers from it
 * while its listener is connected. The listener connects as the pool does (same login, same host choice).
 */
export async function startSessionCache(db: Knex, options: Pick<SessionCacheOptions, 'ttl_ms' | 'entries_max' | 'log'>): Promise<SessionCache> {
  const setting = (db.client as { config: { connection: Knex.PgConnectionConfig | (() => Promise<Knex.PgConnectionConfig>) } }).config.connection;
  const cache = new SessionCache({
    ...options,
    connection: async () => (typeof setting === 'function' ? await setting() : setting) as pg.ClientConfig,
  });
  caches.set(db, cache);
  await cache.start();
  return cache;
}

/** The signed-in actor for a bearer token, or null if the token is unknown, expired, revoked or its user disabled. */
export async function actorForToken(db: Knex, token: string): Promise<Actor | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return null;
  const hash = digest(token);
  const cache = caches.get(db);
  if (!cache) return (await lookUp(db, hash))?.actor ?? null;
  const key = hash.toString('base64');
  const hit = cache.get(key);
  if (hit) return hit;
  const ticket = cache.ticket();
  const found = await lookUp(db, hash);
  if (found) cache.store(ticket, key, found);
  return found?.actor ?? null;
}

async function lookUp(db: Knex, hash: Buffer): Promise<CachedSession | null> {
  const row = await db('sessions as s')
    .join('users as u', 'u.id', 's.user_id')
    .where('s.token_hash', hash)
    .whereNull('s.revoked_at')
    .where('s.expires_at', '>', db.fn.now())
    .where('u.disabled', false)
    .first('s.id as session_id', 's.expires_at', 'u.id', 'u.username', 'u.role', 'u.department_id');
  if (!row) return null;
  return {
    actor: {
      id: String(row.id),
      username: row.username,
      role: row.role as Role,
      departmentId: row.department_id == null ? null : String(row.department_id),
      sessionId: String(row.session_id),
    },
    expiresAt: row.expires_at as Date,
  };
}

/**
 * After a commit that ended sessions or changed a user: this instance forgets them now, without waiting
 * for its own announcement to come back (other instances have only the announcement).
 */
export function sessionsChanged(db: Knex, what: { sessionId: string } | { userId: string }): void {
  caches.get(db)?.forget('sessionId' in what ? `s:${what.sessionId}` : `u:${what.userId}`);
}

export async function revokeSession(db: Knex, sessionId: string): Promise<void> {
  await db('sessions').where({ id: sessionId }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
  sessionsChanged(db, { sessionId });
}

export async function revokeSessionsOf(db: Knex, userId: string): Promise<void> {
  await db('sessions').where({ user_id: userId }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
}
