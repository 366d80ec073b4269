import type { Knex } from 'knex';

/*
 * Least privilege (DESIGN.md "Tamper evidence beyond the database"). Migrations run as the owner;
 * the request pool logs in as a role that owns nothing, is not a superuser (so it can neither set
 * session_replication_role nor, owning no table, ALTER TABLE … DISABLE TRIGGER), and has only the
 * grants below. The grants are a rule over all tables, re-applied at every start, so a table added
 * by any later migration is covered without anyone remembering to grant it.
 */

/**
 * History: rows are only ever added. The pool gets SELECT and INSERT, never UPDATE or DELETE
 * (their triggers refuse those too; without the privilege the attempt stops earlier).
 * `funds` and `accounts` are not here: their derived columns are written by the postings trigger,
 * which runs with the pool's rights, and their own triggers refuse any direct change.
 */
export const historyTables = [
  'journal_entries',
  'postings',
  'audit_log',
  'statements',
  'statement_downloads',
  'ledger_anchors',
  'ledger_identity',
  'department_status_changes',
  'receipt_lines',
  'receipt_events',
  'policies',
  'files',
];

/** Mutable state that may be deleted (expired sessions, replayable keys, throttling counters). */
export const deletableTables = ['sessions', 'idempotency_keys', 'login_throttle'];

/** The schema's own bookkeeping: nothing for the pool. */
const ownerOnlyTables = ['knex_migrations', 'knex_migrations_lock'];

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The pool role of a database: `<database>_app`, so two databases on one server never share one. */
export function poolRoleFor(databaseName: string): string {
  return `${databaseName}_app`.slice(0, 63);
}

export function userOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

export function withCredentials(url: string, user: string, password: string | undefined): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = password ? encodeURIComponent(password) : '';
  return u.toString();
}

async function existingTables(owner: Knex, names: string[]): Promise<string[]> {
  const { rows } = await owner.raw(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY (?)`, [names]);
  return rows.map((r: { relname: string }) => r.relname);
}

/**
 * Tables the schema itself declares append-only: a refuse_change() trigger on UPDATE. Read from the
 * catalogue at every start, so a history table added by any migration is covered without being
 * named here (pg_trigger.tgtype: UPDATE is bit 16). DELETE is granted on none of them anyway.
 */
async function declaredAppendOnly(owner: Knex): Promise<string[]> {
  const { rows } = await owner.raw(`SELECT c.relname, bool_or((t.tgtype & 16) <> 0) AS on_update
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE p.proname = 'refuse_change' AND n.nspname = 'public' AND NOT t.tgisinternal
     GROUP BY c.relname`);
  return (rows as Array<{ relname: string; on_update: boolean }>).filter((t) => t.on_update).map((t) => t.relname);
}

/** Grants `role` what the service needs in this database, and nothing more; idempotent. */
export async function applyGrants(owner: Knex, role: string): Promise<void> {
  const r = ident(role);
  const history = [...new Set([...(await existingTables(owner, historyTables)), ...(await declaredAppendOnly(owner))])];
  const deletable = await existingTables(owner, deletableTables);
  const ownerOnly = await existingTables(owner, ownerOnlyTables);
  await owner.transaction(async (trx) => {
    await trx.raw(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`);
    await trx.raw(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${r}`);
    await trx.raw(`GRANT USAGE ON SCHEMA public TO ${r}`);
    await trx.raw(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${r}`);
    await trx.raw(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
    if (history.length) await trx.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${history.map(ident).join(', ')} FROM ${r}`);
    if (deletable.length) await trx.raw(`GRANT DELETE ON ${deletable.map(ident).join(', ')} TO ${r}`);
    if (ownerOnly.length) await trx.raw(`REVOKE ALL ON ${ownerOnly.map(ident).join(', ')} FROM ${r}`);
  });
}

/** Can this login create and alter roles (superuser, or CREATEROLE)? */
export async function canManageRoles(owner: Knex): Promise<boolean> {
  const { rows } = await owner.raw('SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user');
  return Boolean(rows[0]?.can);
}

/**
 * Creates (or brings back into shape) the pool role with `password`, grants it the rule above and
 * refuses to go on if it is a superuser or owns anything. Returns the URL the pool connects with.
 */
export async function ensurePoolRole(owner: Knex, ownerUrl: string, role: string, password: string): Promise<string> {
  const r = ident(role);
  const { rows } = await owner.raw('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ?', [role]);
  const quotedPassword = `'${password.replace(/'/g, "''")}'`;
  const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD ${quotedPassword}`;
  if (rows.length === 0) {
    try {
      await owner.raw(`CREATE ROLE ${r} ${attributes}`);
    } catch (e) {
      // Another service or test created it at the same moment.
      if ((e as { code?: string }).code !== '42710' && (e as { code?: string }).code !== '23505') throw e;
      await owner.raw(`ALTER ROLE ${r} ${attributes}`);
    }
  } else {
    await owner.raw(`ALTER ROLE ${r} ${attributes}`);
  }
  const owned = await owner.raw(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = ?) AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    [role],
  );
  if (owned.rows[0].n > 0) throw new Error(`the pool role ${role} owns ${owned.rows[0].n} objects in this database; it must own nothing (reassign them to the owner)`);
  await applyGrants(owner, role);
  return withCredentials(ownerUrl, role, password);
}

/** Refuses to serve with a pool login that could switch the database's guards off. */
export async function assertUnprivileged(pool: Knex): Promise<{ superuser: boolean; ownsTables: boolean }> {
  const { rows } = await pool.raw(`SELECT r.rolsuper AS superuser,
      EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relowner = r.oid AND n.nspname = 'public') AS owns_tables
    FROM pg_roles r WHERE r.rolname = current_user`);
  return { superuser: Boolean(rows[0]?.superuser), ownsTables: Boolean(rows[0]?.owns_tables) };
}
