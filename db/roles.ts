import { editDatabaseUrl, parseDatabaseUrl } from './multi-host.ts';
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
const ownerOnlyTables = ['knex_migrations', 'knex_migrations_lock', 'pool_credentials'];

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The pool role of a database: `<database>_app`, so two databases on one server never share one. */
export function poolRoleFor(databaseName: string): string {
  return `${databaseName}_app`.slice(0, 63);
}

export function userOf(url: string): string {
  return decodeURIComponent(parseDatabaseUrl(url).username);
}

export function withCredentials(url: string, user: string, password: string | undefined): string {
  return editDatabaseUrl(url, (u) => {
    u.username = encodeURIComponent(user);
    u.password = password ? encodeURIComponent(password) : '';
  });
}

async function existingTables(owner: Knex, names: string[]): Promise<string[]> {
  const { rows } = await owner.raw(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY (?)`,
    [names],
  );
  return rows.map((r: { relname: string }) => r.relname);
}

/**
 * Columns only the ledger triggers write (balances, posting counts, chain heads, fund figures). The
 * pool may INSERT and UPDATE the other columns of `funds` and `accounts` (it locks them FOR UPDATE and
 * creates them), never these: the triggers write them as the owner (SECURITY DEFINER, hardenSchema).
 */
export const derivedColumns: Record<string, string[]> = {
  funds: ['head_seq', 'head_hash', 'appropriated', 'allocated', 'disbursed'],
  accounts: ['balance', 'posting_count'],
};

/**
 * What no login but the owner may do in this database, made true again at every start so functions
 * of later migrations are covered: no TEMP or CREATE on the database and no CREATE on schema public
 * for PUBLIC (a TEMP table could shadow a ledger table, a TEMP trigger could write derived columns);
 * every function of schema public runs with search_path = pg_catalog, public, pg_temp (pg_temp last:
 * a path that leaves it out searches it first); every trigger function but the derived-column guard
 * runs as its owner (SECURITY DEFINER), so the derived columns are written with the owner's rights and
 * the guard (refuse_direct_update, 011) can refuse every other writer at any trigger depth. Trigger
 * functions cannot be called directly, so SECURITY DEFINER lends the owner's rights to nothing else.
 */
export async function hardenSchema(owner: Knex): Promise<void> {
  await owner.raw(`DO $$
    DECLARE
      f record;
    BEGIN
      EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM PUBLIC', current_database());
      REVOKE CREATE ON SCHEMA public FROM PUBLIC;
      FOR f IN SELECT p.oid::regprocedure AS sig, p.prorettype = 'trigger'::regtype AS is_trigger, p.proname
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public' AND p.prokind = 'f'
                  AND pg_has_role(current_user, p.proowner, 'USAGE')
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f.sig);
        IF f.is_trigger AND f.proname <> 'refuse_direct_update' THEN
          EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', f.sig);
        END IF;
      END LOOP;
    END $$`);
}

async function columnsOf(owner: Knex, table: string): Promise<string[]> {
  const { rows } = await owner.raw(
    `SELECT a.attname FROM pg_attribute a WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [`public.${table}`],
  );
  return rows.map((r: { attname: string }) => r.attname);
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

/**
 * Tables the schema declares derived (a refuse_direct_update() trigger) beyond funds and accounts,
 * e.g. per-unit figures kept by the postings trigger: only the owner-run triggers write them, so the
 * pool gets no INSERT or UPDATE on them at all.
 */
async function declaredDerived(owner: Knex): Promise<string[]> {
  const { rows } = await owner.raw(`SELECT DISTINCT c.relname
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE p.proname = 'refuse_direct_update' AND n.nspname = 'public' AND NOT t.tgisinternal`);
  return (rows as Array<{ relname: string }>).map((r) => r.relname).filter((name) => !(name in derivedColumns));
}

/** Grants `role` what the service needs in this database, and nothing more; idempotent. */
export async function applyGrants(owner: Knex, role: string): Promise<void> {
  const r = ident(role);
  const history = [...new Set([...(await existingTables(owner, historyTables)), ...(await declaredAppendOnly(owner))])];
  const deletable = await existingTables(owner, deletableTables);
  const ownerOnly = await existingTables(owner, ownerOnlyTables);
  const derived = await existingTables(owner, Object.keys(derivedColumns));
  const whollyDerived = await declaredDerived(owner);
  await hardenSchema(owner);
  await owner.transaction(async (trx) => {
    await trx.raw(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r}`);
    await trx.raw(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${r}`);
    await trx.raw(`GRANT USAGE ON SCHEMA public TO ${r}`);
    await trx.raw(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${r}`);
    await trx.raw(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
    if (history.length) await trx.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${history.map(ident).join(', ')} FROM ${r}`);
    if (deletable.length) await trx.raw(`GRANT DELETE ON ${deletable.map(ident).join(', ')} TO ${r}`);
    if (ownerOnly.length) await trx.raw(`REVOKE ALL ON ${ownerOnly.map(ident).join(', ')} FROM ${r}`);
    for (const table of derived) {
      const writable = (await columnsOf(trx, table))
        .filter((c) => !derivedColumns[table]!.includes(c))
        .map(ident)
        .join(', ');
      await trx.raw(`REVOKE INSERT, UPDATE ON ${ident(table)} FROM ${r}`);
      await trx.raw(`GRANT INSERT (${writable}), UPDATE (${writable}) ON ${ident(table)} TO ${r}`);
    }
    if (whollyDerived.length) await trx.raw(`REVOKE INSERT, UPDATE ON ${whollyDerived.map(ident).join(', ')} FROM ${r}`);
    await trx.raw(`DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY, CREATE ON DATABASE %I FROM ${r.replace(/'/g, "''")}', current_database()); END $$`);
  });
}

/** Can this login create and alter roles (superuser, or CREATEROLE)? */
export async function canManageRoles(owner: Knex): Promise<boolean> {
  const { rows } = await owner.raw('SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user');
  return Boolean(rows[0]?.can);
}

/**
 * Creates (or brings back into shape) the pool role, grants it the rule above and refuses to go on if
 * it owns anything. Returns the URL the pool connects with. The role's password lives in the database
 * (pool_credentials, which only the owner reads): a role that has one there keeps it, so a second
 * service on this database never changes the password under the first. `password` is used only for a
 * role that has none there yet (new, or made before pool_credentials existed).
 */
export async function ensurePoolRole(owner: Knex, ownerUrl: string, role: string, password: string): Promise<string> {
  const r = ident(role);
  const attributes = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT';
  const hasCredentials = (await existingTables(owner, ['pool_credentials'])).length > 0;
  const chosen = await owner.transaction(async (trx) => {
    // One service at a time decides the password (a second one starting at the same moment waits).
    await trx.raw("SELECT pg_advisory_xact_lock(hashtext('jiangbu pool role'))");
    const { rows } = await trx.raw('SELECT 1 FROM pg_roles WHERE rolname = ?', [role]);
    const stored = hasCredentials ? ((await trx('pool_credentials').where({ role }).first('password'))?.password as string | undefined) : undefined;
    if (rows.length > 0 && stored) {
      await trx.raw(`ALTER ROLE ${r} ${attributes}`);
      return stored;
    }
    const quotedPassword = `'${password.replace(/'/g, "''")}'`;
    if (rows.length === 0) {
      try {
        await trx.raw('SAVEPOINT create_role');
        await trx.raw(`CREATE ROLE ${r} ${attributes} PASSWORD ${quotedPassword}`);
      } catch (e) {
        // Another database's service (roles are per server) created it at the same moment.
        if ((e as { code?: string }).code !== '42710' && (e as { code?: string }).code !== '23505') throw e;
        await trx.raw('ROLLBACK TO SAVEPOINT create_role');
        await trx.raw(`ALTER ROLE ${r} ${attributes} PASSWORD ${quotedPassword}`);
      }
    } else {
      await trx.raw(`ALTER ROLE ${r} ${attributes} PASSWORD ${quotedPassword}`);
    }
    if (hasCredentials) await trx('pool_credentials').insert({ role, password }).onConflict('role').merge({ password, set_at: trx.fn.now() });
    return password;
  });
  const owned = await owner.raw(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = ?) AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    [role],
  );
  if (owned.rows[0].n > 0)
    throw new Error(`the pool role ${role} owns ${owned.rows[0].n} objects in this database; it must own nothing (reassign them to the owner)`);
  await applyGrants(owner, role);
  return withCredentials(ownerUrl, role, chosen);
}

/** Predefined roles that only read statistics and settings: a pool login may belong to them. */
const harmlessRoles = ['pg_monitor', 'pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables'];

/**
 * Why this pool login must not serve, or null: it could switch the database's guards off or make
 * objects that shadow or outlive them (superuser, owner of anything, member of a role with rights,
 * CREATE or TEMP on the database, CREATE on schema public).
 */
export async function poolLoginProblem(pool: Knex): Promise<string | null> {
  const { rows } = await pool.raw(
    `SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
      EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)
        OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.proowner = r.oid)
        OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid)
        OR EXISTS (SELECT 1 FROM pg_type t WHERE t.typowner = r.oid)
        OR EXISTS (SELECT 1 FROM pg_database d WHERE d.datdba = r.oid) AS owns,
      (SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
        WHERE m.member = r.oid AND g.rolname <> ALL (?)) AS member_of,
      has_database_privilege(current_database(), 'CREATE') AS db_create,
      has_database_privilege(current_database(), 'TEMP') AS db_temp,
      has_schema_privilege('public', 'CREATE') AS schema_create
    FROM pg_roles r WHERE r.rolname = current_user`,
    [harmlessRoles],
  );
  const r = rows[0];
  if (!r) return 'the pool login has no role';
  const name = r.rolname as string;
  if (r.rolsuper) return `the pool login ${name} is a superuser`;
  if (r.rolcreaterole || r.rolcreatedb || r.rolreplication || r.rolbypassrls)
    return `the pool login ${name} may create roles or databases, replicate or bypass row security`;
  if (r.owns) return `the pool login ${name} owns objects in this database; it must own nothing`;
  if (r.member_of) return `the pool login ${name} is a member of ${r.member_of}; it must belong to no role with rights`;
  if (r.db_create || r.db_temp)
    return `the pool login ${name} may create schemas or TEMP tables in this database (REVOKE CREATE, TEMPORARY ON DATABASE … FROM PUBLIC, ${name})`;
  if (r.schema_create) return `the pool login ${name} may create objects in schema public (REVOKE CREATE ON SCHEMA public FROM PUBLIC, ${name})`;
  return null;
}
