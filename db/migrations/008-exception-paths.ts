import type { Knex } from 'knex';

// What happens when units and accountants make mistakes (DESIGN.md "Corrections and exception
// paths"): a rejected receipt no longer holds its invoice and is replaced by a corrected one; a unit
// may ask for a seller code whose check character fails, and verification must confirm it; a unit
// moves its status forward only; runs record whom they left out and are superseded by newer drafts;
// pending payments reserve the payable; scans stop once a receipt is decided; units are edited and
// deactivated, never deleted. Each rule has its home here as well as in code.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- Receipts: only submitted and verified receipts claim an invoice.
    DROP INDEX receipts_invoice_once;
    CREATE UNIQUE INDEX receipts_invoice_once ON receipts (invoice_key) WHERE status IN ('submitted', 'verified');

    ALTER TABLE receipts
      ADD COLUMN supersedes_id bigint REFERENCES receipts (id),
      ADD COLUMN tax_id_override_reason text CHECK (length(tax_id_override_reason) BETWEEN 1 AND 500),
      ADD COLUMN tax_id_confirmed_by bigint REFERENCES users (id),
      -- A unit's request for a failing seller code is confirmed by the accountant who verifies it.
      ADD CONSTRAINT receipts_tax_id_confirmed CHECK (status <> 'verified' OR tax_id_override_reason IS NULL OR tax_id_confirmed_by IS NOT NULL);
    -- A receipt is replaced by at most one live correction.
    CREATE UNIQUE INDEX receipts_superseded_once ON receipts (supersedes_id) WHERE status IN ('submitted', 'verified');
    CREATE INDEX receipts_supersedes ON receipts (supersedes_id) WHERE supersedes_id IS NOT NULL;

    -- A correction replaces a receipt of the same unit and fund that no longer stands.
    CREATE FUNCTION receipt_supersedes_closed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      old_receipt receipts%ROWTYPE;
    BEGIN
      IF NEW.supersedes_id IS NULL THEN RETURN NEW; END IF;
      SELECT * INTO old_receipt FROM receipts WHERE id = NEW.supersedes_id FOR SHARE;
      IF old_receipt.id IS NULL OR old_receipt.department_id <> NEW.department_id OR old_receipt.fund_id <> NEW.fund_id
         OR old_receipt.status NOT IN ('rejected', 'withdrawn') THEN
        RAISE EXCEPTION 'receipt % cannot replace receipt %', NEW.id, NEW.supersedes_id
          USING ERRCODE = 'check_violation', CONSTRAINT = 'receipts_supersedes_closed';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER receipts_supersedes_closed BEFORE INSERT ON receipts FOR EACH ROW EXECUTE FUNCTION receipt_supersedes_closed();

    -- What a receipt claims never changes (now also what it replaces and the unit's request).
    CREATE OR REPLACE FUNCTION receipt_review_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.fund_id, NEW.department_id, NEW.invoice_kind, NEW.invoice_code, NEW.invoice_number, NEW.issue_date,
          NEW.seller_name, NEW.seller_tax_id, NEW.seller_tax_id_override, NEW.total, NEW.submitted_by, NEW.submitted_at,
          NEW.supersedes_id, NEW.tax_id_override_reason)
         IS DISTINCT FROM
         (OLD.fund_id, OLD.department_id, OLD.invoice_kind, OLD.invoice_code, OLD.invoice_number, OLD.issue_date,
          OLD.seller_name, OLD.seller_tax_id, OLD.seller_tax_id_override, OLD.total, OLD.submitted_by, OLD.submitted_at,
          OLD.supersedes_id, OLD.tax_id_override_reason) THEN
        RAISE EXCEPTION 'a submitted receipt is never edited; withdraw it and submit again'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      IF NOT ((OLD.status = 'submitted' AND NEW.status IN ('verified', 'rejected', 'withdrawn'))
           OR (OLD.status = 'verified' AND NEW.status = 'rejected')) THEN
        RAISE EXCEPTION 'a receipt cannot go from % to %', OLD.status, NEW.status
          USING ERRCODE = 'check_violation', CONSTRAINT = 'receipt_status_transition';
      END IF;
      RETURN NEW;
    END $$;

    -- Evidence does not change after review: scans go to submitted receipts only.
    CREATE FUNCTION attachment_receipt_open() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      receipt_status text;
    BEGIN
      IF NEW.receipt_id IS NULL THEN RETURN NEW; END IF;
      -- FOR SHARE waits for a review in progress and then reads its outcome.
      SELECT status INTO receipt_status FROM receipts WHERE id = NEW.receipt_id FOR SHARE;
      IF receipt_status IS DISTINCT FROM 'submitted' THEN
        RAISE EXCEPTION 'receipt % is %, it takes no more scans', NEW.receipt_id, receipt_status
          USING ERRCODE = 'check_violation', CONSTRAINT = 'attachments_receipt_open';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER attachments_receipt_open BEFORE INSERT ON attachments FOR EACH ROW EXECUTE FUNCTION attachment_receipt_open();

    -- Departments: edited and deactivated, never deleted.
    ALTER TABLE departments
      ADD COLUMN active boolean NOT NULL DEFAULT true,
      ADD COLUMN contact text NOT NULL DEFAULT '' CHECK (length(contact) <= 200);
    CREATE INDEX departments_name_search ON departments (lower(name) text_pattern_ops);
    CREATE TRIGGER departments_no_delete BEFORE DELETE ON departments FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE INDEX users_username_search ON users (lower(username) text_pattern_ops);

    -- A unit moves its own status forward only; a move back is an accountant's act with a reason.
    CREATE FUNCTION department_status_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE s WHEN 'not_started' THEN 0 WHEN 'procuring' THEN 1 WHEN 'awaiting_funds' THEN 2 WHEN 'completed' THEN 3 END
    $$;
    CREATE FUNCTION department_status_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      previous text;
      actor_role text;
    BEGIN
      SELECT status INTO previous FROM department_status_changes
        WHERE department_id = NEW.department_id ORDER BY id DESC LIMIT 1;
      IF previous IS NULL OR department_status_rank(NEW.status) >= department_status_rank(previous) THEN RETURN NEW; END IF;
      SELECT role INTO actor_role FROM users WHERE id = NEW.changed_by;
      IF actor_role = 'department' THEN
        RAISE EXCEPTION 'a unit cannot move its status back from % to %', previous, NEW.status
          USING ERRCODE = 'check_violation', CONSTRAINT = 'department_status_forward_only';
      END IF;
      IF length(trim(NEW.note)) = 0 THEN
        RAISE EXCEPTION 'moving a status back from % to % needs a reason', previous, NEW.status
          USING ERRCODE = 'check_violation', CONSTRAINT = 'department_status_regression_reason';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER department_status_forward BEFORE INSERT ON department_status_changes
      FOR EACH ROW EXECUTE FUNCTION department_status_forward();

    -- Runs: whom a run left out and why; a newer draft supersedes older ones.
    ALTER TABLE allocation_runs
      ADD COLUMN excluded jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(excluded) = 'array'),
      ADD COLUMN superseded_by bigint REFERENCES allocation_runs (id),
      DROP CONSTRAINT allocation_runs_status_check,
      ADD CONSTRAINT allocation_runs_status_check CHECK (status IN ('draft', 'approved', 'cancelled', 'superseded')),
      ADD CONSTRAINT allocation_runs_superseded CHECK ((status = 'superseded') = (superseded_by IS NOT NULL));
    CREATE OR REPLACE FUNCTION allocation_run_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.fund_id, NEW.policy_id, NEW.as_of, NEW.available, NEW.total, NEW.clawed_back, NEW.factor, NEW.basis_hash, NEW.created_by, NEW.created_at, NEW.excluded)
         IS DISTINCT FROM (OLD.fund_id, OLD.policy_id, OLD.as_of, OLD.available, OLD.total, OLD.clawed_back, OLD.factor, OLD.basis_hash, OLD.created_by, OLD.created_at, OLD.excluded)
         OR OLD.status <> 'draft' OR NEW.status NOT IN ('approved', 'cancelled', 'superseded') THEN
        RAISE EXCEPTION 'an allocation run is never edited; a draft is approved, cancelled or superseded once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;

    -- Payments: a run's payments remember their run; pending ones reserve the unit's payable.
    ALTER TABLE disbursements ADD COLUMN run_id bigint REFERENCES allocation_runs (id);
    CREATE INDEX disbursements_pending ON disbursements (fund_id, department_id) WHERE status = 'pending';

    -- Locking the unit's payable account serialises every preparation for that unit, so two
    -- concurrent payments cannot both fit what only one of them fits.
    CREATE FUNCTION disbursement_within_payable() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      payable numeric;
      reserved numeric;
    BEGIN
      IF NEW.kind <> 'payment' OR NEW.status <> 'pending' THEN RETURN NEW; END IF;
      SELECT balance INTO payable FROM accounts
        WHERE fund_id = NEW.fund_id AND department_id = NEW.department_id AND kind = 'payable' FOR UPDATE;
      SELECT coalesce(sum(amount), 0) INTO reserved FROM disbursements
        WHERE fund_id = NEW.fund_id AND department_id = NEW.department_id AND kind = 'payment' AND status = 'pending';
      IF reserved + NEW.amount > coalesce(payable, 0) THEN
        RAISE EXCEPTION 'payment of % with % pending exceeds payable %', NEW.amount, reserved, coalesce(payable, 0)
          USING ERRCODE = 'check_violation', CONSTRAINT = 'disbursements_within_payable';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER disbursements_within_payable BEFORE INSERT ON disbursements FOR EACH ROW EXECUTE FUNCTION disbursement_within_payable();
  `);
}

export async function down(): Promise<void> {
  throw new Error('exception-path rules guard evidence and money: never rolled back');
}
