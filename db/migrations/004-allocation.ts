import type { Knex } from 'knex';

// Policies (versioned, never edited), allocation runs (draft → approved by another accountant),
// and disbursements (pending → approved by another accountant). Maker ≠ checker is a CHECK.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE policies (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      version integer NOT NULL CHECK (version > 0),
      rate_os numeric(5,4) NOT NULL CHECK (rate_os BETWEEN 0 AND 1),
      rate_office numeric(5,4) NOT NULL CHECK (rate_office BETWEEN 0 AND 1),
      rate_antivirus numeric(5,4) NOT NULL CHECK (rate_antivirus BETWEEN 0 AND 1),
      rate_other numeric(5,4) NOT NULL CHECK (rate_other BETWEEN 0 AND 1),
      cap_os numeric(18,2) CHECK (cap_os >= 0),
      cap_office numeric(18,2) CHECK (cap_office >= 0),
      cap_antivirus numeric(18,2) CHECK (cap_antivirus >= 0),
      cap_other numeric(18,2) CHECK (cap_other >= 0),
      department_ceiling numeric(18,2) CHECK (department_ceiling >= 0),
      require_completed boolean NOT NULL,
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT policies_fund_version_unique UNIQUE (fund_id, version)
    );
    CREATE TRIGGER policies_append_only BEFORE UPDATE OR DELETE ON policies FOR EACH ROW EXECUTE FUNCTION refuse_change();

    CREATE TABLE allocation_runs (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      policy_id bigint NOT NULL REFERENCES policies (id),
      as_of date NOT NULL,
      status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'cancelled')),
      available numeric(18,2) NOT NULL,
      total numeric(18,2) NOT NULL,
      clawed_back numeric(18,2) NOT NULL,
      factor text NOT NULL,
      basis_hash text NOT NULL CHECK (basis_hash ~ '^[0-9a-f]{64}$'),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      approved_by bigint REFERENCES users (id),
      approved_at timestamptz,
      cancelled_by bigint REFERENCES users (id),
      cancelled_at timestamptz,
      CONSTRAINT allocation_runs_maker_checker CHECK (approved_by IS NULL OR approved_by <> created_by),
      CONSTRAINT allocation_runs_approved CHECK ((status = 'approved') = (approved_by IS NOT NULL))
    );
    CREATE INDEX allocation_runs_fund ON allocation_runs (fund_id, id);

    CREATE TABLE allocation_lines (
      id bigserial PRIMARY KEY,
      run_id bigint NOT NULL REFERENCES allocation_runs (id),
      department_id bigint NOT NULL REFERENCES departments (id),
      entitlement numeric(18,2) NOT NULL,
      previously_allocated numeric(18,2) NOT NULL,
      due numeric(18,2) NOT NULL,
      amount numeric(18,2) NOT NULL CHECK (amount >= 0),
      clawback numeric(18,2) NOT NULL CHECK (clawback >= 0),
      to_recover numeric(18,2) NOT NULL CHECK (to_recover >= 0),
      explanation jsonb NOT NULL,
      entry_id bigint REFERENCES journal_entries (id),
      CONSTRAINT allocation_lines_one_per_department UNIQUE (run_id, department_id),
      CONSTRAINT allocation_lines_one_direction CHECK (amount = 0 OR clawback = 0)
    );

    CREATE TABLE disbursements (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      department_id bigint NOT NULL REFERENCES departments (id),
      kind text NOT NULL DEFAULT 'payment' CHECK (kind IN ('payment', 'refund')),
      amount numeric(18,2) NOT NULL CHECK (amount > 0 AND amount < 10000000000000),
      voucher_no text NOT NULL CHECK (length(voucher_no) BETWEEN 1 AND 64),
      pay_date date NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'cancelled')),
      memo text NOT NULL DEFAULT '',
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      approved_by bigint REFERENCES users (id),
      approved_at timestamptz,
      cancelled_by bigint REFERENCES users (id),
      cancelled_at timestamptz,
      entry_id bigint REFERENCES journal_entries (id),
      CONSTRAINT disbursements_voucher_unique UNIQUE (fund_id, voucher_no),
      CONSTRAINT disbursements_maker_checker CHECK (kind = 'refund' OR approved_by IS NULL OR approved_by <> created_by),
      CONSTRAINT disbursements_approved CHECK ((status = 'approved') = (entry_id IS NOT NULL))
    );
    CREATE INDEX disbursements_department ON disbursements (fund_id, department_id, id);

    -- A decision, once computed or prepared, is never edited: only its state moves forward
    -- (draft → approved | cancelled; pending → approved | cancelled), and a run's lines only get
    -- the entry that posted them.
    CREATE FUNCTION allocation_run_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.fund_id, NEW.policy_id, NEW.as_of, NEW.available, NEW.total, NEW.clawed_back, NEW.factor, NEW.basis_hash, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM (OLD.fund_id, OLD.policy_id, OLD.as_of, OLD.available, OLD.total, OLD.clawed_back, OLD.factor, OLD.basis_hash, OLD.created_by, OLD.created_at)
         OR OLD.status <> 'draft' OR NEW.status NOT IN ('approved', 'cancelled') THEN
        RAISE EXCEPTION 'an allocation run is never edited; a draft is approved or cancelled once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER allocation_runs_state_only BEFORE UPDATE ON allocation_runs FOR EACH ROW EXECUTE FUNCTION allocation_run_state_only();

    CREATE FUNCTION allocation_line_entry_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.entry_id IS NOT NULL OR NEW.entry_id IS NULL
         OR (NEW.run_id, NEW.department_id, NEW.entitlement, NEW.previously_allocated, NEW.due, NEW.amount, NEW.clawback, NEW.to_recover, NEW.explanation)
            IS DISTINCT FROM (OLD.run_id, OLD.department_id, OLD.entitlement, OLD.previously_allocated, OLD.due, OLD.amount, OLD.clawback, OLD.to_recover, OLD.explanation) THEN
        RAISE EXCEPTION 'an allocation line is never edited; it only records the entry that posted it'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER allocation_lines_entry_only BEFORE UPDATE ON allocation_lines FOR EACH ROW EXECUTE FUNCTION allocation_line_entry_only();

    CREATE FUNCTION disbursement_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.fund_id, NEW.department_id, NEW.kind, NEW.amount, NEW.voucher_no, NEW.pay_date, NEW.memo, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM (OLD.fund_id, OLD.department_id, OLD.kind, OLD.amount, OLD.voucher_no, OLD.pay_date, OLD.memo, OLD.created_by, OLD.created_at)
         OR OLD.status <> 'pending' OR NEW.status NOT IN ('approved', 'cancelled') THEN
        RAISE EXCEPTION 'a payment is never edited; a pending one is approved or cancelled once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER disbursements_state_only BEFORE UPDATE ON disbursements FOR EACH ROW EXECUTE FUNCTION disbursement_state_only();

    CREATE TRIGGER policies_no_truncate BEFORE TRUNCATE ON policies FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER allocation_runs_no_delete BEFORE DELETE ON allocation_runs FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER allocation_runs_no_truncate BEFORE TRUNCATE ON allocation_runs FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER allocation_lines_no_delete BEFORE DELETE ON allocation_lines FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER allocation_lines_no_truncate BEFORE TRUNCATE ON allocation_lines FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER disbursements_no_delete BEFORE DELETE ON disbursements FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER disbursements_no_truncate BEFORE TRUNCATE ON disbursements FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('allocation decisions are never rolled back');
}
