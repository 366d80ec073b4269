import type { Knex } from 'knex';

/*
 * The notice's other half: the software-asset register (软件资产台账), installed bases, yearly
 * inventories (年度盘点), the inspector role, inspections (督查) with findings and their
 * rectifications (整改), clawbacks prepared from a finding (four eyes), and the programme's target.
 * Registers are evidence: no row is ever deleted, and what an asset *is* never changes — only its
 * state moves (in use → revoked / retired), each step recorded.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- The supervision team (督察组) signs in like everyone else.
    ALTER TABLE users DROP CONSTRAINT users_role_check;
    ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'accountant', 'department', 'auditor', 'inspector'));

    -- An invoice line says how it is licensed; lines submitted before this column existed are retail.
    ALTER TABLE receipt_lines ADD COLUMN licence_kind text NOT NULL DEFAULT 'retail'
      CONSTRAINT receipt_lines_licence_kind CHECK (licence_kind IN ('oem', 'retail', 'volume', 'subscription'));

    CREATE TABLE software_assets (
      id bigserial PRIMARY KEY,
      department_id bigint NOT NULL REFERENCES departments (id),
      product text NOT NULL CHECK (length(product) BETWEEN 1 AND 200),
      category text NOT NULL CHECK (category IN ('os', 'office', 'antivirus', 'other')),
      licences integer NOT NULL CHECK (licences > 0),
      licence_kind text NOT NULL CHECK (licence_kind IN ('oem', 'retail', 'volume', 'subscription')),
      acquired_on date NOT NULL,
      value numeric(18,2) NOT NULL CHECK (value >= 0 AND value < 10000000000000),
      source text NOT NULL CHECK (source IN ('receipt', 'pre_programme')),
      receipt_id bigint REFERENCES receipts (id),
      receipt_line_no integer,
      note text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
      -- pending / rejected: a pre-programme licence awaiting or refused review; revoked: its receipt's
      -- verification was withdrawn; retired: nothing of it is in use any more.
      status text NOT NULL CHECK (status IN ('pending', 'in_use', 'rejected', 'revoked', 'retired')),
      retired_licences integer NOT NULL DEFAULT 0 CHECK (retired_licences >= 0),
      status_reason text CHECK (length(status_reason) <= 1000),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      reviewed_by bigint REFERENCES users (id),
      reviewed_at timestamptz,
      CONSTRAINT software_assets_source_link CHECK ((source = 'receipt') = (receipt_id IS NOT NULL AND receipt_line_no IS NOT NULL)),
      CONSTRAINT software_assets_retired_within CHECK (retired_licences <= licences),
      CONSTRAINT software_assets_retired_all CHECK ((status = 'retired') = (retired_licences = licences)),
      CONSTRAINT software_assets_reason CHECK (status NOT IN ('rejected', 'revoked') OR length(status_reason) > 0),
      -- A pre-programme licence counts only once an accountant has looked at its evidence.
      CONSTRAINT software_assets_reviewed CHECK (source = 'receipt' OR status = 'pending' OR reviewed_by IS NOT NULL)
    );
    -- One asset per receipt line, however often its receipt's verification moves.
    CREATE UNIQUE INDEX software_assets_one_per_line ON software_assets (receipt_id, receipt_line_no) WHERE source = 'receipt';
    CREATE INDEX software_assets_department ON software_assets (department_id, id);

    -- What an asset is never changes; its state moves forward only (revoked is the one way back:
    -- a receipt verified again puts its lines back in use).
    CREATE FUNCTION software_asset_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.department_id, NEW.product, NEW.category, NEW.licences, NEW.licence_kind, NEW.acquired_on, NEW.value, NEW.source,
          NEW.receipt_id, NEW.receipt_line_no, NEW.note, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM
         (OLD.department_id, OLD.product, OLD.category, OLD.licences, OLD.licence_kind, OLD.acquired_on, OLD.value, OLD.source,
          OLD.receipt_id, OLD.receipt_line_no, OLD.note, OLD.created_by, OLD.created_at)
         OR NEW.retired_licences < OLD.retired_licences
         OR OLD.status IN ('rejected', 'retired')
         OR NOT ((OLD.status = NEW.status)
              OR (OLD.status = 'pending' AND NEW.status IN ('in_use', 'rejected'))
              OR (OLD.status = 'in_use' AND NEW.status IN ('revoked', 'retired'))
              OR (OLD.status = 'revoked' AND NEW.status = 'in_use')) THEN
        RAISE EXCEPTION 'a register line is never edited; only its state moves forward'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER software_assets_state_only BEFORE UPDATE ON software_assets FOR EACH ROW EXECUTE FUNCTION software_asset_state_only();
    CREATE TRIGGER software_assets_no_delete BEFORE DELETE ON software_assets FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER software_assets_no_truncate BEFORE TRUNCATE ON software_assets FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE asset_retirements (
      id bigserial PRIMARY KEY,
      asset_id bigint NOT NULL REFERENCES software_assets (id),
      licences integer NOT NULL CHECK (licences > 0),
      retired_on date NOT NULL,
      reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
      inventory_id bigint,
      retired_by bigint NOT NULL REFERENCES users (id),
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX asset_retirements_asset ON asset_retirements (asset_id, id);
    CREATE TRIGGER asset_retirements_append_only BEFORE UPDATE OR DELETE ON asset_retirements FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER asset_retirements_no_truncate BEFORE TRUNCATE ON asset_retirements FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- Computers and servers as of a date; the latest report as of a date is the one in force.
    CREATE TABLE installed_bases (
      id bigserial PRIMARY KEY,
      department_id bigint NOT NULL REFERENCES departments (id),
      as_of date NOT NULL,
      computers integer NOT NULL CHECK (computers BETWEEN 0 AND 10000000),
      servers integer NOT NULL CHECK (servers BETWEEN 0 AND 10000000),
      reported_by bigint NOT NULL REFERENCES users (id),
      reported_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX installed_bases_department ON installed_bases (department_id, as_of, id);
    CREATE TRIGGER installed_bases_append_only BEFORE UPDATE OR DELETE ON installed_bases FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER installed_bases_no_truncate BEFORE TRUNCATE ON installed_bases FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE inventories (
      id bigserial PRIMARY KEY,
      department_id bigint NOT NULL REFERENCES departments (id),
      year integer NOT NULL CHECK (year BETWEEN 1990 AND 2200),
      status text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'accepted', 'returned')),
      filed_by bigint NOT NULL REFERENCES users (id),
      filed_at timestamptz NOT NULL DEFAULT now(),
      reviewed_by bigint REFERENCES users (id),
      reviewed_at timestamptz,
      review_note text CHECK (length(review_note) <= 1000),
      CONSTRAINT inventories_returned_reason CHECK (status <> 'returned' OR length(review_note) > 0)
    );
    -- One standing inventory per unit and year; a returned one is filed again.
    CREATE UNIQUE INDEX inventories_once_per_year ON inventories (department_id, year) WHERE status <> 'returned';
    CREATE FUNCTION inventory_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.department_id, NEW.year, NEW.filed_by, NEW.filed_at) IS DISTINCT FROM (OLD.department_id, OLD.year, OLD.filed_by, OLD.filed_at)
         OR OLD.status <> 'submitted' OR NEW.status NOT IN ('accepted', 'returned') THEN
        RAISE EXCEPTION 'an inventory is never edited; a submitted one is accepted or returned once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER inventories_state_only BEFORE UPDATE ON inventories FOR EACH ROW EXECUTE FUNCTION inventory_state_only();
    CREATE TRIGGER inventories_no_delete BEFORE DELETE ON inventories FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER inventories_no_truncate BEFORE TRUNCATE ON inventories FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE inventory_counts (
      inventory_id bigint NOT NULL REFERENCES inventories (id),
      asset_id bigint NOT NULL REFERENCES software_assets (id),
      expected integer NOT NULL CHECK (expected >= 0),
      counted integer NOT NULL CHECK (counted BETWEEN 0 AND 10000000),
      PRIMARY KEY (inventory_id, asset_id)
    );
    CREATE TRIGGER inventory_counts_append_only BEFORE UPDATE OR DELETE ON inventory_counts FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER inventory_counts_no_truncate BEFORE TRUNCATE ON inventory_counts FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    ALTER TABLE asset_retirements ADD CONSTRAINT asset_retirements_inventory FOREIGN KEY (inventory_id) REFERENCES inventories (id);

    CREATE TABLE inspections (
      id bigserial PRIMARY KEY,
      document_no text NOT NULL CONSTRAINT inspections_document_no_unique UNIQUE CHECK (length(document_no) BETWEEN 1 AND 100),
      team jsonb NOT NULL CHECK (jsonb_typeof(team) = 'array' AND jsonb_array_length(team) BETWEEN 1 AND 50),
      inspected_on date NOT NULL,
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TRIGGER inspections_append_only BEFORE UPDATE OR DELETE ON inspections FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER inspections_no_truncate BEFORE TRUNCATE ON inspections FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE inspection_units (
      inspection_id bigint NOT NULL REFERENCES inspections (id),
      department_id bigint NOT NULL REFERENCES departments (id),
      PRIMARY KEY (inspection_id, department_id)
    );
    CREATE INDEX inspection_units_department ON inspection_units (department_id);
    CREATE TRIGGER inspection_units_append_only BEFORE UPDATE OR DELETE ON inspection_units FOR EACH ROW EXECUTE FUNCTION refuse_change();

    CREATE TABLE findings (
      id bigserial PRIMARY KEY,
      inspection_id bigint NOT NULL,
      department_id bigint NOT NULL,
      kind text NOT NULL CHECK (kind IN ('unlicensed_installs', 'register_mismatch', 'other')),
      description text NOT NULL CHECK (length(description) BETWEEN 1 AND 5000),
      unlicensed_installs integer CHECK (unlicensed_installs BETWEEN 1 AND 10000000),
      deadline date NOT NULL,
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      closed_by bigint REFERENCES users (id),
      closed_at timestamptz,
      -- A finding concerns a unit the inspection visited.
      CONSTRAINT findings_unit_visited FOREIGN KEY (inspection_id, department_id) REFERENCES inspection_units (inspection_id, department_id),
      CONSTRAINT findings_unlicensed_count CHECK ((kind = 'unlicensed_installs') = (unlicensed_installs IS NOT NULL)),
      CONSTRAINT findings_closed CHECK ((status = 'closed') = (closed_by IS NOT NULL))
    );
    CREATE INDEX findings_department ON findings (department_id, id);
    CREATE INDEX findings_open ON findings (deadline) WHERE status <> 'closed';
    CREATE FUNCTION finding_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.inspection_id, NEW.department_id, NEW.kind, NEW.description, NEW.unlicensed_installs, NEW.deadline, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM (OLD.inspection_id, OLD.department_id, OLD.kind, OLD.description, OLD.unlicensed_installs, OLD.deadline, OLD.created_by, OLD.created_at)
         OR OLD.status = 'closed' THEN
        RAISE EXCEPTION 'a finding is never edited; only its state moves until it is closed'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER findings_state_only BEFORE UPDATE ON findings FOR EACH ROW EXECUTE FUNCTION finding_state_only();
    CREATE TRIGGER findings_no_delete BEFORE DELETE ON findings FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER findings_no_truncate BEFORE TRUNCATE ON findings FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- The unit's answers and the inspector's decisions, in order: the finding's history.
    CREATE TABLE finding_events (
      id bigserial PRIMARY KEY,
      finding_id bigint NOT NULL REFERENCES findings (id),
      kind text NOT NULL CHECK (kind IN ('rectification', 'kept_open', 'closed')),
      note text NOT NULL CHECK (length(note) BETWEEN 1 AND 5000),
      actor_id bigint NOT NULL REFERENCES users (id),
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX finding_events_finding ON finding_events (finding_id, id);
    CREATE TRIGGER finding_events_append_only BEFORE UPDATE OR DELETE ON finding_events FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER finding_events_no_truncate BEFORE TRUNCATE ON finding_events FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- Scans as evidence for a pre-programme licence and for a rectification.
    ALTER TABLE attachments
      ADD COLUMN software_asset_id bigint REFERENCES software_assets (id),
      ADD COLUMN finding_event_id bigint REFERENCES finding_events (id),
      DROP CONSTRAINT attachments_one_owner,
      ADD CONSTRAINT attachments_one_owner CHECK (num_nonnulls(receipt_id, written_report_id, software_asset_id, finding_event_id) = 1);
    CREATE INDEX attachments_software_asset ON attachments (software_asset_id);
    CREATE INDEX attachments_finding_event ON attachments (finding_event_id);

    -- A clawback of unpaid reward that a finding calls for: prepared by one accountant, posted
    -- (Dr 2307.d / Cr 5001.d) when a different one approves it.
    CREATE TABLE finding_clawbacks (
      id bigserial PRIMARY KEY,
      finding_id bigint NOT NULL REFERENCES findings (id),
      fund_id bigint NOT NULL REFERENCES funds (id),
      department_id bigint NOT NULL REFERENCES departments (id),
      amount numeric(18,2) NOT NULL CHECK (amount > 0 AND amount < 10000000000000),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'cancelled')),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      approved_by bigint REFERENCES users (id),
      approved_at timestamptz,
      cancelled_by bigint REFERENCES users (id),
      cancelled_at timestamptz,
      entry_id bigint REFERENCES journal_entries (id),
      CONSTRAINT finding_clawbacks_maker_checker CHECK (approved_by IS NULL OR approved_by <> created_by),
      CONSTRAINT finding_clawbacks_approved CHECK ((status = 'approved') = (entry_id IS NOT NULL AND approved_by IS NOT NULL))
    );
    CREATE INDEX finding_clawbacks_department ON finding_clawbacks (fund_id, department_id, id);
    CREATE INDEX finding_clawbacks_finding ON finding_clawbacks (finding_id);
    CREATE FUNCTION finding_clawback_state_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.finding_id, NEW.fund_id, NEW.department_id, NEW.amount, NEW.created_by, NEW.created_at)
         IS DISTINCT FROM (OLD.finding_id, OLD.fund_id, OLD.department_id, OLD.amount, OLD.created_by, OLD.created_at)
         OR OLD.status <> 'pending' OR NEW.status NOT IN ('approved', 'cancelled') THEN
        RAISE EXCEPTION 'a clawback is never edited; a pending one is approved or cancelled once'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER finding_clawbacks_state_only BEFORE UPDATE ON finding_clawbacks FOR EACH ROW EXECUTE FUNCTION finding_clawback_state_only();
    CREATE TRIGGER finding_clawbacks_no_delete BEFORE DELETE ON finding_clawbacks FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER finding_clawbacks_no_truncate BEFORE TRUNCATE ON finding_clawbacks FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    -- The programme's target (e.g. every unit by 2011-10-31) and how long after the written-report
    -- deadline a unit head's in-person report (当面汇报) is due. Versioned: the latest is in force.
    CREATE TABLE programme_targets (
      id bigserial PRIMARY KEY,
      target_date date NOT NULL,
      target_rate numeric(5,4) NOT NULL CHECK (target_rate > 0 AND target_rate <= 1),
      in_person_days integer NOT NULL DEFAULT 10 CHECK (in_person_days BETWEEN 0 AND 365),
      procuring_days_max integer NOT NULL DEFAULT 60 CHECK (procuring_days_max BETWEEN 1 AND 3650),
      set_by bigint NOT NULL REFERENCES users (id),
      set_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TRIGGER programme_targets_append_only BEFORE UPDATE OR DELETE ON programme_targets FOR EACH ROW EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('registers and inspection records are evidence: never rolled back');
}
