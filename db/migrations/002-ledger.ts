import type { Knex } from 'knex';

/*
 * The books. Every invariant of DESIGN.md "The books" is enforced here as well as in code,
 * so that no code path and no direct SQL (short of disabling triggers as a superuser) can break it.
 * Balances change only through postings: the postings trigger is the one writer of accounts.balance.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE funds (
      id bigserial PRIMARY KEY,
      code text NOT NULL CONSTRAINT funds_code_unique UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,40}$'),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1990 AND 2200),
      document_no text NOT NULL CHECK (length(document_no) BETWEEN 1 AND 100),
      currency char(3) NOT NULL DEFAULT 'CNY' CHECK (currency = 'CNY'),
      head_seq bigint NOT NULL DEFAULT 0,
      head_hash text NOT NULL DEFAULT repeat('0', 64),
      appropriated numeric(18,2) NOT NULL DEFAULT 0,
      allocated numeric(18,2) NOT NULL DEFAULT 0,
      disbursed numeric(18,2) NOT NULL DEFAULT 0,
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT fund_allocated_within_appropriated CHECK (allocated <= appropriated)
    );

    CREATE TABLE accounts (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      code text NOT NULL,
      name text NOT NULL,
      book text NOT NULL CHECK (book IN ('financial', 'budget')),
      normal_side text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
      kind text NOT NULL CHECK (kind IN ('cash', 'payable', 'revenue', 'expense',
                                         'funds_on_hand', 'budget_revenue', 'budget_expenditure')),
      department_id bigint REFERENCES departments (id),
      guarded boolean NOT NULL,
      balance numeric(18,2) NOT NULL DEFAULT 0,
      posting_count bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT accounts_fund_code_unique UNIQUE (fund_id, code),
      CONSTRAINT account_guarded_nonnegative CHECK (NOT guarded OR balance >= 0),
      CONSTRAINT account_guard_by_kind CHECK (guarded = (kind IN ('cash', 'payable', 'funds_on_hand'))),
      CONSTRAINT account_department_by_kind
        CHECK ((kind IN ('payable', 'expense', 'budget_expenditure')) = (department_id IS NOT NULL))
    );
    CREATE INDEX accounts_department ON accounts (fund_id, department_id);

    CREATE TABLE journal_entries (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      seq bigint NOT NULL CHECK (seq > 0),
      entry_date date NOT NULL,
      kind text NOT NULL CHECK (kind IN ('appropriation', 'manual', 'allocation', 'clawback',
                                         'disbursement', 'refund', 'reversal')),
      memo text NOT NULL DEFAULT '' CHECK (length(memo) <= 500),
      document_no text,
      department_id bigint REFERENCES departments (id),
      reverses_entry_id bigint REFERENCES journal_entries (id)
        CONSTRAINT journal_entries_reversed_once UNIQUE,
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL,
      created_txid bigint NOT NULL DEFAULT txid_current(),
      prev_hash text NOT NULL,
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
      CONSTRAINT journal_entries_fund_seq_unique UNIQUE (fund_id, seq),
      CONSTRAINT journal_entries_reversal_link CHECK ((kind = 'reversal') = (reverses_entry_id IS NOT NULL))
    );
    CREATE INDEX journal_entries_fund_date ON journal_entries (fund_id, entry_date, seq);
    CREATE INDEX journal_entries_department ON journal_entries (fund_id, department_id, seq);

    CREATE TABLE postings (
      id bigserial PRIMARY KEY,
      -- No FOREIGN KEY here: postings_apply() checks, once per statement, that every posting's entry
      -- and account exist (in the same fund, the entry opened in this transaction); neither can ever
      -- be deleted. Row-by-row referential checks halved batch throughput.
      entry_id bigint NOT NULL,
      account_id bigint NOT NULL,
      side text NOT NULL CHECK (side IN ('debit', 'credit')),
      -- NUMERIC admits NaN and Infinity, which compare above every number: the upper bound refuses them.
      amount numeric(18,2) NOT NULL CONSTRAINT posting_amount_range CHECK (amount > 0 AND amount < 10000000000000),
      balance_after numeric(18,2) NOT NULL
    );
    CREATE INDEX postings_account ON postings (account_id, id);
    CREATE INDEX postings_entry ON postings (entry_id);

    CREATE TABLE idempotency_keys (
      user_id bigint NOT NULL REFERENCES users (id),
      key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
      request_hash text NOT NULL,
      status_code integer,
      response jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, key)
    );

    -- Appends only, in order: the entries of one INSERT must extend their fund's chain link by link,
    -- from its head. Statement-level, so a batch of a thousand entries costs one check, not a thousand.
    CREATE FUNCTION journal_entries_extend_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      fund bigint;
    BEGIN
      FOR fund IN SELECT DISTINCT fund_id FROM new_rows ORDER BY fund_id LOOP
        PERFORM 1 FROM funds WHERE id = fund FOR UPDATE;
      END LOOP;
      IF EXISTS (
        SELECT 1
          FROM (SELECT r.fund_id, r.seq, r.prev_hash, r.created_txid,
                       row_number() OVER w AS n, lag(r.hash) OVER w AS previous
                  FROM new_rows r WINDOW w AS (PARTITION BY r.fund_id ORDER BY r.seq)) c
          JOIN funds f ON f.id = c.fund_id
         WHERE c.seq <> f.head_seq + c.n
            OR c.prev_hash <> coalesce(c.previous, f.head_hash)
            OR c.created_txid <> txid_current()) THEN
        RAISE EXCEPTION 'the new entries do not extend their fund''s chain from its head'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_chain_contiguous';
      END IF;
      IF EXISTS (SELECT 1 FROM new_rows n JOIN journal_entries t ON t.id = n.reverses_entry_id
                  WHERE t.fund_id <> n.fund_id OR t.kind = 'reversal') THEN
        RAISE EXCEPTION 'an entry of another fund, or a reversal, cannot be reversed'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_reversal_target';
      END IF;
      UPDATE funds f SET head_seq = h.seq, head_hash = h.hash
        FROM (SELECT DISTINCT ON (fund_id) fund_id, seq, hash FROM new_rows ORDER BY fund_id, seq DESC) h
       WHERE f.id = h.fund_id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER journal_entries_chain AFTER INSERT ON journal_entries
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_extend_chain();

    -- Checked at commit: no entry is left without postings. (Their balance is checked per statement below.)
    CREATE FUNCTION journal_entry_check_posted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM postings WHERE entry_id = NEW.id LIMIT 1;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'entry % has no postings; at least 2 are required', NEW.id
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_has_two_postings';
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER journal_entries_posted AFTER INSERT ON journal_entries
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_check_posted();

    -- One statement-level pass per INSERT: verifies the running balances the service computed,
    -- keeps stored balances equal to the sums of postings, and guards what must never go negative.
    CREATE FUNCTION postings_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      goes_negative boolean;
      running_wrong boolean;
    BEGIN
      IF EXISTS (SELECT 1 FROM new_rows n
                   LEFT JOIN journal_entries e ON e.id = n.entry_id
                   LEFT JOIN accounts a ON a.id = n.account_id
                  WHERE e.id IS NULL OR a.id IS NULL
                     OR e.created_txid <> txid_current() OR e.fund_id <> a.fund_id) THEN
        RAISE EXCEPTION 'a posting needs an existing account and an entry of the same fund created in the same transaction'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'posting_entry_open';
      END IF;
      -- An entry's postings arrive in one statement: each touched entry has ≥ 2 and balances per book.
      IF EXISTS (SELECT 1 FROM postings p JOIN accounts a ON a.id = p.account_id
                  WHERE p.entry_id IN (SELECT DISTINCT entry_id FROM new_rows)
                  GROUP BY p.entry_id HAVING count(*) < 2) THEN
        RAISE EXCEPTION 'an entry needs at least 2 postings, inserted together'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_has_two_postings';
      END IF;
      IF EXISTS (SELECT 1 FROM postings p JOIN accounts a ON a.id = p.account_id
                  WHERE p.entry_id IN (SELECT DISTINCT entry_id FROM new_rows)
                  GROUP BY p.entry_id, a.book
                 HAVING sum(CASE WHEN p.side = 'debit' THEN p.amount ELSE -p.amount END) <> 0) THEN
        RAISE EXCEPTION 'debits and credits differ within a book'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_books_balance';
      END IF;
      SELECT coalesce(bool_or(guarded AND expected < 0), false), coalesce(bool_or(balance_after <> expected), false)
        INTO goes_negative, running_wrong
        FROM (SELECT n.balance_after, a.guarded,
                     a.balance + sum(CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END)
                                   OVER (PARTITION BY n.account_id ORDER BY n.id) AS expected
                FROM new_rows n JOIN accounts a ON a.id = n.account_id) r;
      IF goes_negative THEN
        RAISE EXCEPTION 'a guarded account would go below zero'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'account_guarded_nonnegative';
      END IF;
      IF running_wrong THEN
        RAISE EXCEPTION 'a posting''s running balance does not follow from the account balance'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'posting_running_balance';
      END IF;
      UPDATE accounts a
         SET balance = a.balance + s.delta, posting_count = a.posting_count + s.n
        FROM (SELECT n.account_id,
                     sum(CASE WHEN n.side = x.normal_side THEN n.amount ELSE -n.amount END) AS delta,
                     count(*) AS n
                FROM new_rows n JOIN accounts x ON x.id = n.account_id
               GROUP BY n.account_id) s
       WHERE a.id = s.account_id;
      UPDATE funds f
         SET appropriated = f.appropriated + s.appropriated,
             allocated = f.allocated + s.allocated,
             disbursed = f.disbursed + s.disbursed
        FROM (SELECT x.fund_id,
                     coalesce(sum(d.delta) FILTER (WHERE x.kind = 'revenue'), 0) AS appropriated,
                     coalesce(sum(d.delta) FILTER (WHERE x.kind = 'expense'), 0) AS allocated,
                     coalesce(sum(d.delta) FILTER (WHERE x.kind = 'budget_expenditure'), 0) AS disbursed
                FROM new_rows n
                JOIN accounts x ON x.id = n.account_id
                CROSS JOIN LATERAL (SELECT CASE WHEN n.side = x.normal_side THEN n.amount ELSE -n.amount END AS delta) d
               GROUP BY x.fund_id) s
       WHERE f.id = s.fund_id;
      RETURN NULL;
    END $$;
    CREATE TRIGGER postings_apply AFTER INSERT ON postings
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postings_apply();

    -- Balances and chain heads are derived data: only the triggers above may change them.
    CREATE FUNCTION refuse_direct_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION '% rows change only through postings', TG_TABLE_NAME
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER accounts_derived BEFORE UPDATE ON accounts
      FOR EACH ROW EXECUTE FUNCTION refuse_direct_update();
    CREATE TRIGGER funds_derived BEFORE UPDATE ON funds
      FOR EACH ROW EXECUTE FUNCTION refuse_direct_update();

    CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER funds_no_delete BEFORE DELETE ON funds
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER funds_no_truncate BEFORE TRUNCATE ON funds
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('the books are never rolled back');
}
