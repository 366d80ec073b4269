import type { Knex } from 'knex';

// Users, departments, sessions and the append-only audit log.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- Raised by every append-only table; the constraint name is what the service translates.
    CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
    END $$;

    CREATE TABLE departments (
      id bigserial PRIMARY KEY,
      code text NOT NULL CONSTRAINT departments_code_unique UNIQUE
        CONSTRAINT departments_code_format CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      "group" text NOT NULL CHECK ("group" ~ '^[a-z][a-z0-9_]{0,39}$'),
      status text NOT NULL DEFAULT 'not_started'
        CHECK (status IN ('not_started', 'procuring', 'awaiting_funds', 'completed')),
      note text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE users (
      id bigserial PRIMARY KEY,
      username text NOT NULL CHECK (username ~ '^[A-Za-z0-9._-]{3,64}$'),
      password_hash text NOT NULL,
      role text NOT NULL CHECK (role IN ('admin', 'accountant', 'department', 'auditor')),
      department_id bigint REFERENCES departments (id),
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT users_department_binding CHECK ((role = 'department') = (department_id IS NOT NULL))
    );
    CREATE UNIQUE INDEX users_username_unique ON users (lower(username));

    CREATE TABLE sessions (
      id bigserial PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id),
      token_hash bytea NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      ip text
    );

    CREATE TABLE login_failures (
      id bigserial PRIMARY KEY,
      username text NOT NULL,
      ip text NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX login_failures_username ON login_failures (lower(username), at);
    CREATE INDEX login_failures_ip ON login_failures (ip, at);

    CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor_id bigint,
      actor_username text,
      actor_role text,
      action text NOT NULL,
      object_type text,
      object_id text,
      request_id text,
      ip text,
      before jsonb,
      after jsonb
    );
    CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
    CREATE INDEX audit_log_action ON audit_log (action, id);
    CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);
    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('the foundation is never rolled back: the audit log is append-only');
}
