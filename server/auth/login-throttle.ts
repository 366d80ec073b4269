import type { Knex } from 'knex';
import { AppError } from '../errors.ts';

/**
 * Sign-in throttling, counted in one row per account and one per address. Each attempt is reserved
 * (counted) atomically before the password is checked, so parallel guesses cannot all slip through
 * between a count and an insert; a success gives its reservation back.
 *
 * - account: 10 tries per 15 minutes, then locked; each consecutive lockout doubles (5 min … 2 h).
 * - address: 100 tries per 5 minutes, then refused until that window ends. High enough for an
 *   office behind one address, and short enough that one noisy client cannot lock every colleague
 *   out for long.
 */
export const accountTries_max = 10;
const accountWindow_s = 15 * 60;
const accountLockFirst_s = 5 * 60;
const accountLockLongest_s = 2 * 60 * 60;
export const addressTries_max = 100;
const addressWindow_s = 5 * 60;

type Scope = 'account' | 'address';

interface Reservation {
  scope: Scope;
  key: string;
}

async function retryAfterSeconds(db: Knex, r: Reservation): Promise<number> {
  const row = await db('login_throttle')
    .where({ scope: r.scope, key: r.key })
    .first(db.raw('greatest(1, ceil(extract(epoch FROM locked_until - now())))::int AS s'));
  return Math.max(1, Number(row?.s ?? 1));
}

function refused(seconds: number): AppError {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return new AppError('TOO_MANY_ATTEMPTS', `登录失败次数过多，请 ${minutes} 分钟后再试`, undefined, { 'Retry-After': String(seconds) });
}

/** Counts one attempt; throws 429 when the key is locked or this attempt is one too many. */
async function reserve(db: Knex, r: Reservation): Promise<void> {
  const window_s = r.scope === 'account' ? accountWindow_s : addressWindow_s;
  const max = r.scope === 'account' ? accountTries_max : addressTries_max;
  const { rows } = await db.raw(
    `INSERT INTO login_throttle AS t (scope, key, attempts, window_started)
     VALUES (:scope, :key, 1, now())
     ON CONFLICT (scope, key) DO UPDATE SET
       attempts = CASE WHEN t.window_started <= now() - make_interval(secs => :window) THEN 1 ELSE t.attempts + 1 END,
       window_started = CASE WHEN t.window_started <= now() - make_interval(secs => :window) THEN now() ELSE t.window_started END,
       -- A day without trouble forgives earlier lockouts.
       lockouts = CASE WHEN t.updated_at <= now() - interval '1 day' THEN 0 ELSE t.lockouts END,
       updated_at = now()
     WHERE t.locked_until IS NULL OR t.locked_until <= now()
     RETURNING attempts`,
    { scope: r.scope, key: r.key, window: window_s },
  );
  if (rows.length === 0) throw refused(await retryAfterSeconds(db, r));
  if (Number(rows[0].attempts) <= max) return;
  // One too many: lock (once, whoever gets here first) and refuse without checking the password.
  if (r.scope === 'account') {
    await db.raw(
      `UPDATE login_throttle
          SET locked_until = now() + make_interval(secs => least(:longest, :first * power(2, lockouts))),
              lockouts = lockouts + 1, attempts = 0, window_started = now()
        WHERE scope = :scope AND key = :key AND attempts > :max AND (locked_until IS NULL OR locked_until <= now())`,
      { scope: r.scope, key: r.key, max, first: accountLockFirst_s, longest: accountLockLongest_s },
    );
  } else {
    await db.raw(
      `UPDATE login_throttle SET locked_until = window_started + make_interval(secs => :window)
        WHERE scope = :scope AND key = :key AND attempts > :max AND (locked_until IS NULL OR locked_until <= now())`,
      { scope: r.scope, key: r.key, max, window: window_s },
    );
  }
  throw refused(await retryAfterSeconds(db, r));
}

export const accountKey = (username: string) => username.toLowerCase();

// Guessed usernames and passing addresses leave rows behind; about one sign-in in a hundred sweeps
// out those untouched for two days (a lockout still running is kept whatever its age).
const prune_probability = 0.01;

export async function pruneStale(db: Knex): Promise<void> {
  await db('login_throttle')
    .where('updated_at', '<', db.raw("now() - interval '2 days'"))
    .where((q) => q.whereNull('locked_until').orWhere('locked_until', '<', db.fn.now()))
    .del();
}

/** Reserves a try for the address, then for the account (both refused → 429 before any password check). */
export async function reserveSignIn(db: Knex, username: string, ip: string): Promise<void> {
  if (Math.random() < prune_probability) await pruneStale(db);
  await reserve(db, { scope: 'address', key: ip });
  await reserve(db, { scope: 'account', key: accountKey(username) });
}

/** A success: the account starts afresh, and the address gets its try back. */
export async function signInSucceeded(db: Knex, username: string, ip: string): Promise<void> {
  await db('login_throttle')
    .where({ scope: 'account', key: accountKey(username) })
    .update({ attempts: 0, lockouts: 0, locked_until: null, updated_at: db.fn.now() });
  await db('login_throttle')
    .where({ scope: 'address', key: ip })
    .update({ attempts: db.raw('greatest(attempts - 1, 0)') });
}
