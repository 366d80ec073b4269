import type { Knex } from 'knex';

/*
 * Internal control (DESIGN.md "Internal control", invariants 8–10), each rule with one home here:
 *
 * - Four eyes (制单 ≠ 审核): a posted entry names its preparer (created_by) and a different approver
 *   (approved_by). CHECK journal_entries_four_eyes; the chain trigger also requires both to be accountants.
 *   Entries posted before this migration keep no approver: the CHECK is added NOT VALID, so it binds
 *   every new row and leaves history as it was written (the journal is append-only); where there is no
 *   such history (every new installation) it is then validated, and holds for every row.
 * - Prepared, not yet posted: pending_entries (and journal_entry_batches) hold what an accountant
 *   prepared; a pending entry has no seq, no hash and moves no balance. Its id is drawn from the
 *   journal's own sequence and the posted entry keeps it, so an entry has one id before and after.
 * - Periods (invariant 9): no entry dated before the fund's opening_date, after today in
 *   Asia/Shanghai, or on or before funds.closed_through (chain trigger). closed_through moves only
 *   through an approved period_closes row (a trigger), like every other derived column of funds.
 * - Fund figures by kind (invariant 10) — THE RULE, for anyone recomputing them from entries:
 *     figure kind of an entry = its kind, or for a reversal the kind of the entry it reverses;
 *     delta of a posting      = amount if its side is its account's normal side, else −amount;
 *     appropriated = Σ delta over postings to accounts of kind 'revenue' (4001)
 *                    of entries whose figure kind is 'appropriation';
 *     allocated    = Σ delta over postings to accounts of kind 'expense' (5001.d)
 *                    of entries whose figure kind is 'allocation' or 'clawback';
 *     disbursed    = Σ delta over postings to accounts of kind 'budget_expenditure' (7101.d)
 *                    of entries whose figure kind is 'disbursement' or 'refund'.
 *   So manual entries (and reversals of manual entries) never move a figure, and a reversal moves
 *   the figure of what it reverses back. Only entries whose figure kind is 'appropriation' may post
 *   to accounts of kind 'revenue' (4001) or 'budget_revenue' (6001): appropriation_accounts_reserved.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE funds
      ADD COLUMN opening_date date,
      ADD COLUMN closed_through date;

    ALTER TABLE journal_entries
      ADD COLUMN approved_by bigint REFERENCES users (id),
      ADD CONSTRAINT journal_entries_four_eyes CHECK (approved_by IS NOT NULL AND approved_by <> created_by) NOT VALID,
      ADD CONSTRAINT journal_entries_date_range CHECK (entry_date BETWEEN DATE '1900-01-01' AND DATE '2999-12-31') NOT VALID;

    -- The figures are recomputed by kind for funds that already have entries, and opening dates set;
    -- funds rows otherwise change only through triggers.
    ALTER TABLE funds DISABLE TRIGGER funds_derived;
    UPDATE funds f SET
      opening_date = make_date(f.fiscal_year, 1, 1),
      appropriated = coalesce(s.appropriated, 0),
      allocated = coalesce(s.allocated, 0),
      disbursed = coalesce(s.disbursed, 0)
      FROM (SELECT f2.id,
                   sum(x.delta) FILTER (WHERE x.account_kind = 'revenue' AND x.figure_kind = 'appropriation') AS appropriated,
                   sum(x.delta) FILTER (WHERE x.account_kind = 'expense' AND x.figure_kind IN ('allocation', 'clawback')) AS allocated,
                   sum(x.delta) FILTER (WHERE x.account_kind = 'budget_expenditure' AND x.figure_kind IN ('disbursement', 'refund')) AS disbursed
              FROM funds f2
              LEFT JOIN (SELECT a.fund_id, a.kind AS account_kind,
                                CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END AS delta,
                                CASE WHEN e.kind = 'reversal' THEN t.kind ELSE e.kind END AS figure_kind
                           FROM postings p
                           JOIN accounts a ON a.id = p.account_id
                           JOIN journal_entries e ON e.id = p.entry_id
                           LEFT JOIN journal_entries t ON t.id = e.reverses_entry_id) x ON x.fund_id = f2.id
             GROUP BY f2.id) s
     WHERE s.id = f.id;
    ALTER TABLE funds ENABLE TRIGGER funds_derived;
    ALTER TABLE funds
      ALTER COLUMN opening_date SET NOT NULL,
      ADD CONSTRAINT funds_opening_date_range CHECK (opening_date BETWEEN DATE '1900-01-01' AND DATE '2999-12-31'),
      ADD CONSTRAINT funds_closed_through_range CHECK (closed_through IS NULL OR closed_through BETWEEN DATE '1899-12-31' AND DATE '2999-12-31');

    CREATE OR REPLACE FUNCTION journal_entries_extend_chain() RETURNS trigger LANGUAGE plpgsql AS $$
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
      -- Invariant 8: the preparer and the approver are two accountants (the CHECK makes them two people).
      IF EXISTS (SELECT 1 FROM new_rows n
                   LEFT JOIN users c ON c.id = n.created_by
                   LEFT JOIN users a ON a.id = n.approved_by
                  WHERE c.role IS DISTINCT FROM 'accountant' OR a.role IS DISTINCT FROM 'accountant') THEN
        RAISE EXCEPTION 'an entry is prepared by one accountant and approved by another'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entries_four_eyes';
      END IF;
      -- Invariant 9: the period. "Today" is the day in China, where the books are kept.
      IF EXISTS (SELECT 1 FROM new_rows n JOIN funds f ON f.id = n.fund_id
                  WHERE n.entry_date <= f.closed_through) THEN
        RAISE EXCEPTION 'the fund is closed through a date on or after this entry''s date'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_period_closed';
      END IF;
      IF EXISTS (SELECT 1 FROM new_rows n JOIN funds f ON f.id = n.fund_id
                  WHERE n.entry_date < f.opening_date
                     OR n.entry_date > (now() AT TIME ZONE 'Asia/Shanghai')::date) THEN
        RAISE EXCEPTION 'an entry is dated from the fund''s opening date to today'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_date_in_period';
      END IF;
      UPDATE funds f SET head_seq = h.seq, head_hash = h.hash
        FROM (SELECT DISTINCT ON (fund_id) fund_id, seq, hash FROM new_rows ORDER BY fund_id, seq DESC) h
       WHERE f.id = h.fund_id;
      RETURN NULL;
    END $$;

    -- As in 002, with the fund figures kept by entry kind (the rule at the top of this file) and
    -- 4001/6001 reserved for appropriations.
    CREATE OR REPLACE FUNCTION postings_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
      IF EXISTS (SELECT 1 FROM new_rows n
                   JOIN accounts a ON a.id = n.account_id
                   JOIN journal_entries e ON e.id = n.entry_id
                   LEFT JOIN journal_entries t ON t.id = e.reverses_entry_id
                  WHERE a.kind IN ('revenue', 'budget_revenue')
                    AND (CASE WHEN e.kind = 'reversal' THEN t.kind ELSE e.kind END) IS DISTINCT FROM 'appropriation') THEN
        RAISE EXCEPTION 'only an appropriation or its reversal may post to 4001 or 6001'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'appropriation_accounts_reserved';
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
                     coalesce(sum(d.delta) FILTER (WHERE x.kind = 'revenue' AND k.figure_kind = 'appropriation'), 0) AS appropriated,
                     coalesce(sum(d.delta) FILTER (WHERE x.kind = 'expense' AND k.figure_kind IN ('allocation', 'clawback')), 0) AS allocated,
                     coalesce(sum(d.delta) FILTER (WHERE x.kind = 'budget_expenditure' AND k.figure_kind IN ('disbursement', 'refund')), 0) AS disbursed
                FROM new_rows n
                JOIN accounts x ON x.id = n.account_id
                JOIN journal_entries e ON e.id = n.entry_id
                LEFT JOIN journal_entries t ON t.id = e.reverses_entry_id
                CROSS JOIN LATERAL (SELECT CASE WHEN n.side = x.normal_side THEN n.amount ELSE -n.amount END AS delta) d
                CROSS JOIN LATERAL (SELECT CASE WHEN e.kind = 'reversal' THEN t.kind ELSE e.kind END AS figure_kind) k
               GROUP BY x.fund_id) s
       WHERE f.id = s.fund_id;
      RETURN NULL;
    END $$;

    -- What an accountant prepared and another has not yet approved. Never deleted: a pending entry is
    -- posted or rejected once, and nothing else about it changes.
    CREATE TABLE journal_entry_batches (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      entry_count integer NOT NULL CHECK (entry_count BETWEEN 1 AND 1000),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'rejected')),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      decided_by bigint REFERENCES users (id),
      decided_at timestamptz,
      reason text CHECK (length(reason) <= 500),
      CONSTRAINT journal_entry_batches_decided CHECK ((status = 'pending') = (decided_by IS NULL)),
      CONSTRAINT journal_entry_batches_four_eyes CHECK (status <> 'posted' OR decided_by <> created_by),
      CONSTRAINT journal_entry_batches_reject_reason CHECK (status <> 'rejected' OR length(trim(reason)) > 0)
    );
    CREATE INDEX journal_entry_batches_fund ON journal_entry_batches (fund_id, status, id);

    CREATE TABLE pending_entries (
      id bigint PRIMARY KEY DEFAULT nextval('journal_entries_id_seq'),
      fund_id bigint NOT NULL REFERENCES funds (id),
      batch_id bigint REFERENCES journal_entry_batches (id),
      position integer NOT NULL DEFAULT 0,
      kind text NOT NULL CHECK (kind IN ('appropriation', 'manual', 'reversal')),
      entry_date date NOT NULL CHECK (entry_date BETWEEN DATE '1900-01-01' AND DATE '2999-12-31'),
      memo text NOT NULL DEFAULT '' CHECK (length(memo) <= 500),
      document_no text,
      department_id bigint REFERENCES departments (id),
      reverses_entry_id bigint REFERENCES journal_entries (id),
      postings jsonb NOT NULL CHECK (jsonb_typeof(postings) = 'array' AND jsonb_array_length(postings) >= 2),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'rejected')),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      decided_by bigint REFERENCES users (id),
      decided_at timestamptz,
      reason text CHECK (length(reason) <= 500),
      CONSTRAINT pending_entries_reversal_link CHECK ((kind = 'reversal') = (reverses_entry_id IS NOT NULL)),
      CONSTRAINT pending_entries_decided CHECK ((status = 'pending') = (decided_by IS NULL)),
      CONSTRAINT pending_entries_four_eyes CHECK (status <> 'posted' OR decided_by <> created_by),
      CONSTRAINT pending_entries_reject_reason CHECK (status <> 'rejected' OR length(trim(reason)) > 0)
    );
    CREATE INDEX pending_entries_fund ON pending_entries (fund_id, status, id);
    CREATE INDEX pending_entries_batch ON pending_entries (batch_id, position) WHERE batch_id IS NOT NULL;
    -- One reversal per entry, counting those still waiting for approval.
    CREATE UNIQUE INDEX pending_entries_reversed_once ON pending_entries (reverses_entry_id) WHERE status <> 'rejected';

    -- A pending entry is decided once; when posted, the journal holds it under the same id, by the same preparer.
    CREATE FUNCTION pending_entry_decide_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.id, NEW.fund_id, NEW.batch_id, NEW.position, NEW.kind, NEW.entry_date, NEW.memo, NEW.document_no, NEW.department_id,
          NEW.reverses_entry_id, NEW.postings, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM (OLD.id, OLD.fund_id, OLD.batch_id, OLD.position, OLD.kind, OLD.entry_date, OLD.memo, OLD.document_no, OLD.department_id,
          OLD.reverses_entry_id, OLD.postings, OLD.created_by, OLD.created_at)
         OR OLD.status <> 'pending' OR NEW.status NOT IN ('posted', 'rejected') THEN
        RAISE EXCEPTION 'a prepared entry is never edited; it is posted or rejected once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      IF NEW.status = 'posted' AND NOT EXISTS (
           SELECT 1 FROM journal_entries e
            WHERE e.id = NEW.id AND e.fund_id = NEW.fund_id AND e.created_by = NEW.created_by AND e.approved_by = NEW.decided_by) THEN
        RAISE EXCEPTION 'a prepared entry is posted only with its journal entry'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'pending_entries_posted_link';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER pending_entries_decide_once BEFORE UPDATE ON pending_entries FOR EACH ROW EXECUTE FUNCTION pending_entry_decide_once();

    CREATE FUNCTION journal_entry_batch_decide_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.id, NEW.fund_id, NEW.entry_count, NEW.created_by, NEW.created_at) IS DISTINCT FROM (OLD.id, OLD.fund_id, OLD.entry_count, OLD.created_by, OLD.created_at)
         OR OLD.status <> 'pending' OR NEW.status NOT IN ('posted', 'rejected') THEN
        RAISE EXCEPTION 'a prepared batch is never edited; it is posted or rejected once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER journal_entry_batches_decide_once BEFORE UPDATE ON journal_entry_batches FOR EACH ROW EXECUTE FUNCTION journal_entry_batch_decide_once();

    CREATE TRIGGER pending_entries_no_delete BEFORE DELETE ON pending_entries FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER pending_entries_no_truncate BEFORE TRUNCATE ON pending_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER journal_entry_batches_no_delete BEFORE DELETE ON journal_entry_batches FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER journal_entry_batches_no_truncate BEFORE TRUNCATE ON journal_entry_batches FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- Refunds are now prepared and approved like payments: four eyes for both kinds. Refunds recorded
    -- before this migration by one accountant stay as they were (NOT VALID).
    ALTER TABLE disbursements DROP CONSTRAINT disbursements_maker_checker;
    ALTER TABLE disbursements ADD CONSTRAINT disbursements_maker_checker CHECK (approved_by IS NULL OR approved_by <> created_by) NOT VALID;

    -- A database with no legacy rows (every new installation) gets the constraints fully validated.
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM journal_entries) THEN
        ALTER TABLE journal_entries VALIDATE CONSTRAINT journal_entries_four_eyes;
        ALTER TABLE journal_entries VALIDATE CONSTRAINT journal_entries_date_range;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM disbursements WHERE approved_by = created_by) THEN
        ALTER TABLE disbursements VALIDATE CONSTRAINT disbursements_maker_checker;
      END IF;
    END $$;

    -- Close certificates (结账单) are statements: numbered, their bytes kept, checkable by upload.
    ALTER TABLE statements DROP CONSTRAINT statements_kind_check;
    ALTER TABLE statements ADD CONSTRAINT statements_kind_check CHECK (kind IN ('department', 'summary', 'period_close'));

    -- Closing (结账) and reopening (反结账): prepared by one accountant, approved by another; an approved
    -- close moves funds.closed_through (here and only here) and has its certificate.
    CREATE TABLE period_closes (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      kind text NOT NULL CHECK (kind IN ('close', 'reopen')),
      through date NOT NULL CHECK (through BETWEEN DATE '1899-12-31' AND DATE '2999-12-31'),
      reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      decided_by bigint REFERENCES users (id),
      decided_at timestamptz,
      reject_reason text CHECK (length(reject_reason) <= 500),
      previous_through date,
      certificate_id bigint REFERENCES statements (id),
      CONSTRAINT period_closes_decided CHECK ((status = 'pending') = (decided_by IS NULL)),
      CONSTRAINT period_closes_four_eyes CHECK (status <> 'approved' OR decided_by <> created_by),
      CONSTRAINT period_closes_certificate CHECK ((status = 'approved') = (certificate_id IS NOT NULL)),
      CONSTRAINT period_closes_reopen_reason CHECK (kind = 'close' OR length(trim(reason)) > 0)
    );
    CREATE INDEX period_closes_fund ON period_closes (fund_id, id);

    CREATE FUNCTION period_close_decide() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      current date;
    BEGIN
      IF (NEW.id, NEW.fund_id, NEW.kind, NEW.through, NEW.reason, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM (OLD.id, OLD.fund_id, OLD.kind, OLD.through, OLD.reason, OLD.created_by, OLD.created_at)
         OR OLD.status <> 'pending' OR NEW.status NOT IN ('approved', 'rejected') THEN
        RAISE EXCEPTION 'a close is never edited; it is approved or rejected once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      IF NEW.status = 'approved' THEN
        SELECT closed_through INTO current FROM funds WHERE id = NEW.fund_id FOR UPDATE;
        IF (NEW.kind = 'close' AND current IS NOT NULL AND NEW.through <= current)
           OR (NEW.kind = 'reopen' AND (current IS NULL OR NEW.through >= current))
           OR NEW.previous_through IS DISTINCT FROM current THEN
          RAISE EXCEPTION 'a close moves the closed-through date forward, a reopen moves it back'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closes_direction';
        END IF;
        UPDATE funds SET closed_through = NEW.through WHERE id = NEW.fund_id;
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER period_closes_decide BEFORE UPDATE ON period_closes FOR EACH ROW EXECUTE FUNCTION period_close_decide();
    CREATE TRIGGER period_closes_no_delete BEFORE DELETE ON period_closes FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER period_closes_no_truncate BEFORE TRUNCATE ON period_closes FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('internal control is never rolled back');
}
