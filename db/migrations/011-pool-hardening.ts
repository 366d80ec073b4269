import type { Knex } from 'knex';
import { hardenSchema } from '../roles.ts';

/*
 * The pool login could get round the derived-column guard (refuse_direct_update refused only at
 * pg_trigger_depth() < 2, so an UPDATE from a TEMP table's trigger passed) and could shadow the real
 * tables inside the ledger triggers with TEMP tables of the same name (the triggers ran with the
 * caller's search_path, where pg_temp comes first). Now:
 * - the guard also asks who is writing: only the owner of the table (the ledger trigger functions run
 *   as SECURITY DEFINER, owned by the owner) may change a derived column, at any depth. A setting the
 *   triggers set would not do: any login may SET a custom setting itself. The pool has no UPDATE or
 *   INSERT privilege on the derived columns at all (db/roles.ts), so the guard is the second lock;
 * - every function of the schema runs with search_path = pg_catalog, public, pg_temp (pg_temp named
 *   last: left out, it is searched first), re-applied at every start for functions of later migrations;
 * - no TEMP and no CREATE on the database for PUBLIC, no CREATE on schema public (db/roles.ts).
 * pool_credentials keeps the pool role's password where only the owner reads it, so a second service
 * on the same database (another DATA_DIR) connects with it instead of setting a new one under the
 * first service's feet (which then failed every request with 28P01).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE pool_credentials (
      role name PRIMARY KEY,
      password text NOT NULL CHECK (length(password) BETWEEN 16 AND 200),
      set_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE OR REPLACE FUNCTION refuse_direct_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF pg_trigger_depth() < 2
         OR NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RAISE EXCEPTION '% rows change only through postings', TG_TABLE_NAME
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
  `);
  await hardenSchema(knex);
}

export async function down(): Promise<void> {
  throw new Error('the pool hardening is never rolled back');
}
