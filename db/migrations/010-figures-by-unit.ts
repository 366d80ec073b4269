import type { Knex } from 'knex';

/*
 * Invariant 10 per unit, and the rules of closing kept by the database (DESIGN.md "Internal control").
 *
 * - Unit figures by kind: fund_unit_figures (fund, department, allocated, disbursed) are the fund's
 *   figures of 006 split by unit, kept by the same trigger from the same rule:
 *     allocated(d) = Σ delta over postings to 5001.d of entries whose figure kind is allocation/clawback;
 *     disbursed(d) = Σ delta over postings to 7101.d of entries whose figure kind is disbursement/refund
 *   (figure kind = the entry's kind, or for a reversal the kind of what it reverses). Runs, payments,
 *   refunds and positions read these, never the balances of 5001.d, 7101.d or 2307.d alone: a manual
 *   entry (four eyes or not) moves balances, never a figure, so it cannot make a unit owed money it
 *   was not allocated, hide an allocation from the next run, or make room for a refund.
 *   CHECKs: per unit 0 ≤ disbursed ≤ allocated; per fund 0 ≤ disbursed ≤ allocated (≤ appropriated, 002).
 * - What a manual entry may still do: correct balances, with four eyes. It may not create quota:
 *   its net effect on 1011 (零余额账户用款额度) and on 8001 (资金结存) is never positive
 *   (manual_entry_creates_no_quota); a correction that moves money between those accounts and back
 *   within one entry nets out and is allowed. A reversal mirrors an entry already posted and is not a
 *   manual entry. Credits to 2307.d stay possible (a correction of a payable), but pay nothing out:
 *   a payment is capped by what the unit is owed by kind.
 * - Closing: one pending close or reopen per fund (period_closes_one_pending); a close is inserted
 *   pending only, approved by an accountant other than its preparer, and its certificate is a close
 *   certificate of the same fund, issued by the approver, used by no other close. A prepared entry or
 *   batch is inserted pending only (it becomes posted with its journal entry, 006).
 */
/** What the postings of one statement add to each unit's figures (the rule above). */
const unitDeltas = `
  SELECT x.fund_id, x.department_id,
         coalesce(sum(d.delta) FILTER (WHERE x.kind = 'expense'), 0) AS allocated,
         coalesce(sum(d.delta) FILTER (WHERE x.kind = 'budget_expenditure'), 0) AS disbursed
    FROM new_rows n
    JOIN accounts x ON x.id = n.account_id
    JOIN journal_entries e ON e.id = n.entry_id
    LEFT JOIN journal_entries t ON t.id = e.reverses_entry_id
    CROSS JOIN LATERAL (SELECT CASE WHEN n.side = x.normal_side THEN n.amount ELSE -n.amount END AS delta) d
    CROSS JOIN LATERAL (SELECT CASE WHEN e.kind = 'reversal' THEN t.kind ELSE e.kind END AS figure_kind) k
   WHERE (x.kind = 'expense' AND k.figure_kind IN ('allocation', 'clawback'))
      OR (x.kind = 'budget_expenditure' AND k.figure_kind IN ('disbursement', 'refund'))
   GROUP BY x.fund_id, x.department_id`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE fund_unit_figures (
      fund_id bigint NOT NULL REFERENCES funds (id),
      department_id bigint NOT NULL REFERENCES departments (id),
      allocated numeric(18,2) NOT NULL DEFAULT 0,
      disbursed numeric(18,2) NOT NULL DEFAULT 0,
      PRIMARY KEY (fund_id, department_id)
    );

    INSERT INTO fund_unit_figures (fund_id, department_id, allocated, disbursed)
    SELECT x.fund_id, x.department_id,
           coalesce(sum(x.delta) FILTER (WHERE x.account_kind = 'expense' AND x.figure_kind IN ('allocation', 'clawback')), 0),
           coalesce(sum(x.delta) FILTER (WHERE x.account_kind = 'budget_expenditure' AND x.figure_kind IN ('disbursement', 'refund')), 0)
      FROM (SELECT a.fund_id, a.department_id, a.kind AS account_kind,
                   CASE WHEN p.side = a.normal_side THEN p.amount ELSE -p.amount END AS delta,
                   CASE WHEN e.kind = 'reversal' THEN t.kind ELSE e.kind END AS figure_kind
              FROM postings p
              JOIN accounts a ON a.id = p.account_id
              JOIN journal_entries e ON e.id = p.entry_id
              LEFT JOIN journal_entries t ON t.id = e.reverses_entry_id
             WHERE a.kind IN ('expense', 'budget_expenditure')) x
     GROUP BY x.fund_id, x.department_id;

    -- Legacy rows that broke these rules (possible before this migration) keep them NOT VALID; every
    -- new row is bound, and a database without such rows gets them validated below.
    ALTER TABLE fund_unit_figures
      ADD CONSTRAINT unit_disbursed_nonnegative CHECK (disbursed >= 0) NOT VALID,
      ADD CONSTRAINT unit_disbursed_within_allocated CHECK (disbursed <= allocated) NOT VALID;
    ALTER TABLE funds
      ADD CONSTRAINT fund_disbursed_within_allocated CHECK (disbursed >= 0 AND disbursed <= allocated) NOT VALID;
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM fund_unit_figures WHERE disbursed < 0) THEN
        ALTER TABLE fund_unit_figures VALIDATE CONSTRAINT unit_disbursed_nonnegative;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM fund_unit_figures WHERE disbursed > allocated) THEN
        ALTER TABLE fund_unit_figures VALIDATE CONSTRAINT unit_disbursed_within_allocated;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM funds WHERE disbursed < 0 OR disbursed > allocated) THEN
        ALTER TABLE funds VALIDATE CONSTRAINT fund_disbursed_within_allocated;
      END IF;
    END $$;

    -- Derived data: only the postings trigger writes it (refuse_direct_update of 002 lets depth ≥ 2 through).
    CREATE TRIGGER fund_unit_figures_derived BEFORE INSERT OR UPDATE ON fund_unit_figures
      FOR EACH ROW EXECUTE FUNCTION refuse_direct_update();
    CREATE TRIGGER fund_unit_figures_no_delete BEFORE DELETE ON fund_unit_figures FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER fund_unit_figures_no_truncate BEFORE TRUNCATE ON fund_unit_figures FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- As in 006, plus: a manual entry creates no quota, and the unit figures are kept beside the fund's.
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
      IF EXISTS (SELECT 1 FROM new_rows n
                   JOIN accounts a ON a.id = n.account_id
                   JOIN journal_entries e ON e.id = n.entry_id
                  WHERE e.kind = 'manual' AND a.kind IN ('cash', 'funds_on_hand')
                  GROUP BY n.entry_id, a.kind
                 HAVING sum(CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END) > 0) THEN
        RAISE EXCEPTION 'a manual entry cannot raise 1011 or 8001: quota comes only from an appropriation'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'manual_entry_creates_no_quota';
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
      -- An UPDATE of the units that have figures, then an INSERT of those that have none: not
      -- INSERT … ON CONFLICT, whose proposed row meets the CHECKs before the conflict is found.
      UPDATE fund_unit_figures u
         SET allocated = u.allocated + s.allocated, disbursed = u.disbursed + s.disbursed
        FROM (${unitDeltas}) s
       WHERE u.fund_id = s.fund_id AND u.department_id = s.department_id;
      INSERT INTO fund_unit_figures (fund_id, department_id, allocated, disbursed)
      SELECT s.fund_id, s.department_id, s.allocated, s.disbursed
        FROM (${unitDeltas}) s
       WHERE NOT EXISTS (SELECT 1 FROM fund_unit_figures u WHERE u.fund_id = s.fund_id AND u.department_id = s.department_id);
      RETURN NULL;
    END $$;

    -- A fund opens in or before its fiscal year (not after today: checked where the date is typed).
    ALTER TABLE funds ADD CONSTRAINT funds_opening_in_fiscal_year CHECK (opening_date <= make_date(fiscal_year, 12, 31)) NOT VALID;
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM funds WHERE opening_date > make_date(fiscal_year, 12, 31)) THEN
        ALTER TABLE funds VALIDATE CONSTRAINT funds_opening_in_fiscal_year;
      END IF;
    END $$;

    -- Closing: one pending close or reopen per fund, even when two accountants prepare at once.
    CREATE UNIQUE INDEX period_closes_one_pending ON period_closes (fund_id) WHERE status = 'pending';
    CREATE UNIQUE INDEX period_closes_certificate_once ON period_closes (certificate_id) WHERE certificate_id IS NOT NULL;

    -- A close is born pending: it takes effect only through its approval (006's update trigger).
    CREATE FUNCTION period_close_born_pending() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL OR NEW.decided_at IS NOT NULL
         OR NEW.certificate_id IS NOT NULL OR NEW.previous_through IS NOT NULL OR NEW.reject_reason IS NOT NULL THEN
        RAISE EXCEPTION 'a close is prepared pending and decided by another accountant'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closes_born_pending';
      END IF;
      IF NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.created_by AND role = 'accountant') THEN
        RAISE EXCEPTION 'a close is prepared by an accountant'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closes_accountants';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER period_closes_born_pending BEFORE INSERT ON period_closes FOR EACH ROW EXECUTE FUNCTION period_close_born_pending();

    -- The approval: by an accountant (the CHECK of 006 makes them another), with this close's own certificate.
    CREATE FUNCTION period_close_approval() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status <> OLD.status AND NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.decided_by AND role = 'accountant') THEN
        RAISE EXCEPTION 'a close is approved or rejected by an accountant'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closes_accountants';
      END IF;
      -- Approved by its own preparer: the CHECK period_closes_four_eyes (006) refuses that, by name.
      IF NEW.status = 'approved' AND NEW.decided_by IS DISTINCT FROM NEW.created_by AND NOT EXISTS (
           SELECT 1 FROM statements s
            WHERE s.id = NEW.certificate_id AND s.kind = 'period_close' AND s.fund_id = NEW.fund_id AND s.issued_by = NEW.decided_by) THEN
        RAISE EXCEPTION 'a close''s certificate is a close certificate of its fund, issued by its approver'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closes_certificate_own';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER period_closes_approval BEFORE UPDATE ON period_closes FOR EACH ROW EXECUTE FUNCTION period_close_approval();

    -- Prepared entries and batches are born pending; 006's update trigger posts them with their journal entry.
    CREATE FUNCTION prepared_born_pending() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL OR NEW.decided_at IS NOT NULL THEN
        RAISE EXCEPTION 'a prepared % is inserted pending and decided by another accountant', TG_TABLE_NAME
          USING ERRCODE = 'check_violation', CONSTRAINT = 'prepared_born_pending';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER pending_entries_born_pending BEFORE INSERT ON pending_entries FOR EACH ROW EXECUTE FUNCTION prepared_born_pending();
    CREATE TRIGGER journal_entry_batches_born_pending BEFORE INSERT ON journal_entry_batches FOR EACH ROW EXECUTE FUNCTION prepared_born_pending();
  `);
}

export async function down(): Promise<void> {
  throw new Error('figures by unit are never rolled back');
}
