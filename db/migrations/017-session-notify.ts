import type { Knex } from 'knex';

/*
 * Each service instance keeps signed-in sessions in memory for a few seconds (server/auth/session-cache.ts).
 * Whatever ends a session or changes what its user may do is announced on channel `jiangbu_sessions`
 * by triggers, so the announcement is part of the change's own transaction: it reaches every listening
 * instance when, and only when, the change commits — also for changes made by direct SQL.
 * Payloads: `s:<session id>`, `u:<user id>`, or `*` (forget everything: a bulk delete or TRUNCATE).
 * pg_notify needs no privilege, so the pool role (db/roles.ts) can both send and LISTEN.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION announce_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('jiangbu_sessions', '*');
      ELSIF TG_TABLE_NAME = 'sessions' THEN
        PERFORM pg_notify('jiangbu_sessions', 's:' || OLD.id);
      ELSE
        PERFORM pg_notify('jiangbu_sessions', 'u:' || OLD.id);
      END IF;
      RETURN NULL;
    END $$;

    -- Revocation, a changed expiry or owner: the session as cached is no longer true.
    CREATE TRIGGER sessions_announce_update AFTER UPDATE ON sessions
      FOR EACH ROW EXECUTE FUNCTION announce_session_change();
    -- Purges delete many rows at once: one announcement for the statement.
    CREATE TRIGGER sessions_announce_delete AFTER DELETE OR TRUNCATE ON sessions
      FOR EACH STATEMENT EXECUTE FUNCTION announce_session_change();
    -- What an actor is: name, role, unit; whether it may sign in at all; its password (a change ends other sessions).
    CREATE TRIGGER users_announce_update AFTER UPDATE OF username, role, department_id, disabled, password_hash OR DELETE ON users
      FOR EACH ROW EXECUTE FUNCTION announce_session_change();
    CREATE TRIGGER users_announce_truncate AFTER TRUNCATE ON users
      FOR EACH STATEMENT EXECUTE FUNCTION announce_session_change();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER users_announce_truncate ON users;
    DROP TRIGGER users_announce_update ON users;
    DROP TRIGGER sessions_announce_delete ON sessions;
    DROP TRIGGER sessions_announce_update ON sessions;
    DROP FUNCTION announce_session_change();
  `);
}
