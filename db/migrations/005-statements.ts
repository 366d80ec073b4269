import type { Knex } from 'knex';

// Issued statements: numbered per fund and year without gaps, their exact bytes kept so that a
// re-download is identical and an uploaded copy can be checked; every download recorded.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE statement_counters (
      fund_id bigint NOT NULL REFERENCES funds (id),
      year integer NOT NULL,
      last_no integer NOT NULL CHECK (last_no > 0),
      PRIMARY KEY (fund_id, year)
    );

    CREATE TABLE statements (
      id bigserial PRIMARY KEY,
      statement_no text NOT NULL CONSTRAINT statements_no_unique UNIQUE,
      fund_id bigint NOT NULL REFERENCES funds (id),
      year integer NOT NULL,
      seq integer NOT NULL CHECK (seq > 0),
      kind text NOT NULL CHECK (kind IN ('department', 'summary')),
      department_id bigint REFERENCES departments (id),
      content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
      head_seq bigint NOT NULL,
      head_hash text NOT NULL,
      sha256 text NOT NULL CONSTRAINT statements_sha256_unique UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      size integer NOT NULL,
      pdf bytea NOT NULL,
      issued_by bigint NOT NULL REFERENCES users (id),
      issued_at timestamptz NOT NULL,
      CONSTRAINT statements_fund_year_seq_unique UNIQUE (fund_id, year, seq),
      CONSTRAINT statements_same_content_once UNIQUE NULLS NOT DISTINCT (fund_id, kind, department_id, content_hash),
      CONSTRAINT statements_department_kind CHECK ((kind = 'department') = (department_id IS NOT NULL))
    );
    CREATE TRIGGER statements_append_only BEFORE UPDATE OR DELETE ON statements FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER statements_no_truncate BEFORE TRUNCATE ON statements FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE statement_downloads (
      id bigserial PRIMARY KEY,
      statement_id bigint NOT NULL REFERENCES statements (id),
      user_id bigint NOT NULL REFERENCES users (id),
      at timestamptz NOT NULL DEFAULT now(),
      ip text
    );
    CREATE INDEX statement_downloads_statement ON statement_downloads (statement_id, id);
  `);
}

export async function down(): Promise<void> {
  throw new Error('issued statements are never rolled back');
}
