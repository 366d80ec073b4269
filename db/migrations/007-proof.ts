import type { Knex } from 'knex';

/*
 * Proof that survives the database owner (DESIGN.md "Tamper evidence beyond the database"):
 * - login_throttle: sign-in attempts counted per account and per address in one row each, so that
 *   an attempt is reserved atomically (ON CONFLICT … DO UPDATE takes the row lock) before the
 *   password is checked: forty parallel guesses get no more tries than forty serial ones.
 * - ledger_identity: which database a witness line speaks of (fund ids repeat across databases).
 * - ledger_anchors: every chain head a document was built from; append-only, and also written to
 *   the witness file outside the database, where the owner cannot rewrite it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE login_failures;

    CREATE TABLE login_throttle (
      scope text NOT NULL CHECK (scope IN ('account', 'address')),
      key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
      attempts integer NOT NULL CHECK (attempts >= 0),
      window_started timestamptz NOT NULL,
      locked_until timestamptz,
      lockouts integer NOT NULL DEFAULT 0 CHECK (lockouts >= 0),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (scope, key)
    );

    CREATE TABLE ledger_identity (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      one_row boolean NOT NULL DEFAULT true CONSTRAINT ledger_identity_one_row UNIQUE CHECK (one_row)
    );
    INSERT INTO ledger_identity DEFAULT VALUES;
    CREATE TRIGGER ledger_identity_append_only BEFORE UPDATE OR DELETE ON ledger_identity
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER ledger_identity_no_truncate BEFORE TRUNCATE ON ledger_identity
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE ledger_anchors (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      seq bigint NOT NULL CHECK (seq >= 0),
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      -- What recorded it: 'statement', 'close', 'head' (the periodic witness), 'bundle'.
      source text NOT NULL CHECK (source ~ '^[a-z_]{1,40}$'),
      ref text CHECK (length(ref) <= 200),
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ledger_anchors_fund ON ledger_anchors (fund_id, seq);
    CREATE TRIGGER ledger_anchors_append_only BEFORE UPDATE OR DELETE ON ledger_anchors
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER ledger_anchors_no_truncate BEFORE TRUNCATE ON ledger_anchors
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- Statements issued before anchors existed are anchors too.
    INSERT INTO ledger_anchors (fund_id, seq, hash, source, ref, at)
      SELECT fund_id, head_seq, head_hash, 'statement', statement_no, issued_at FROM statements ORDER BY id;
  `);
}

export async function down(): Promise<void> {
  throw new Error('anchors are never rolled back');
}
