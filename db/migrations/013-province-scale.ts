import type { Knex } from 'knex';

/*
 * Province scale (issue 15, DESIGN.md "Scale"): what lets the reads a person waits for answer in
 * milliseconds at 10 million postings, and verify resume from where it last held.
 *
 * - account_day_balances: each account's closing balance at the end of every day on which it has
 *   postings (the sum of the deltas of postings of entries dated on or before that day). Kept by a
 *   statement-level trigger on postings, like the balances of 002: a posting dated D adds its delta
 *   to the row of D (created from the closing balance of the day before it, if new) and to every
 *   later row of its account, so a back-dated entry in an open period leaves every later day right.
 *   An entry dated today touches one row. The trial balance as of a date reads, per account, the
 *   last row on or before that date: one index probe per account, never a sum over postings.
 *   Derived data: only the trigger (run as the owner) writes it; the pool may only read it.
 * - ledger_verify_checkpoints: what a verify that found nothing wrong saw at its last entry (seq,
 *   chain hash, each account's running sum and posting count, the figures by kind and unit), so an
 *   incremental verify checks only the entries after it. Append-only.
 * - journal_entries (fund_id, kind, entry_date, seq): the journal filtered by kind, in its order
 *   (date, then seq, newest first), without a sort.
 * - idempotency_keys (created_at): the purge of expired keys (server/http/idempotency-purge.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE account_day_balances (
      account_id bigint NOT NULL REFERENCES accounts (id),
      day date NOT NULL,
      balance numeric(18,2) NOT NULL,
      CONSTRAINT account_day_balances_pkey PRIMARY KEY (account_id, day) INCLUDE (balance)
    );

    INSERT INTO account_day_balances (account_id, day, balance)
    SELECT d.account_id, d.day, sum(d.delta) OVER (PARTITION BY d.account_id ORDER BY d.day)
      FROM (SELECT p.account_id, e.entry_date AS day,
                   sum(CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END) AS delta
              FROM postings p
              JOIN accounts a ON a.id = p.account_id
              JOIN journal_entries e ON e.id = p.entry_id
             GROUP BY p.account_id, e.entry_date) d;

    CREATE FUNCTION postings_day_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Days new to an account start from its closing balance of the day before (read before any
      -- delta of this statement is added, so every row below gets the statement's deltas once).
      INSERT INTO account_day_balances (account_id, day, balance)
      SELECT k.account_id, k.day,
             coalesce((SELECT b.balance FROM account_day_balances b
                        WHERE b.account_id = k.account_id AND b.day < k.day
                        ORDER BY b.day DESC LIMIT 1), 0)
        FROM (SELECT DISTINCT n.account_id, e.entry_date AS day
                FROM new_rows n JOIN journal_entries e ON e.id = n.entry_id) k
      ON CONFLICT (account_id, day) DO NOTHING;
      UPDATE account_day_balances b
         SET balance = b.balance + s.delta
        FROM (SELECT b2.account_id, b2.day, sum(d.delta) AS delta
                FROM (SELECT n.account_id, e.entry_date AS day,
                             sum(CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END) AS delta
                        FROM new_rows n
                        JOIN accounts a ON a.id = n.account_id
                        JOIN journal_entries e ON e.id = n.entry_id
                       GROUP BY n.account_id, e.entry_date) d
                JOIN account_day_balances b2 ON b2.account_id = d.account_id AND b2.day >= d.day
               GROUP BY b2.account_id, b2.day) s
       WHERE b.account_id = s.account_id AND b.day = s.day;
      RETURN NULL;
    END $$;
    CREATE TRIGGER postings_day_balances AFTER INSERT ON postings
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postings_day_balances();

    CREATE TRIGGER account_day_balances_derived BEFORE INSERT OR UPDATE ON account_day_balances
      FOR EACH ROW EXECUTE FUNCTION refuse_direct_update();
    CREATE TRIGGER account_day_balances_no_delete BEFORE DELETE ON account_day_balances
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER account_day_balances_no_truncate BEFORE TRUNCATE ON account_day_balances
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE ledger_verify_checkpoints (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      seq bigint NOT NULL CHECK (seq >= 0),
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
      entries bigint NOT NULL CHECK (entries >= 0),
      state jsonb NOT NULL,
      verified_by bigint NOT NULL REFERENCES users (id),
      verified_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ledger_verify_checkpoints_fund ON ledger_verify_checkpoints (fund_id, id);
    CREATE TRIGGER ledger_verify_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_verify_checkpoints
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER ledger_verify_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_verify_checkpoints
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE INDEX journal_entries_fund_kind ON journal_entries (fund_id, kind, entry_date, seq);
    CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
  `);
}

export async function down(): Promise<void> {
  throw new Error('the books are never rolled back');
}
