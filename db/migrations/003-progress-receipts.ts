import type { Knex } from 'knex';

// Legalization progress (status history, report deadlines, written reports) and procurement evidence
// (receipts, their lines, review events, attachments stored by content).
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE departments
      ADD COLUMN accepted_on date,
      ADD CONSTRAINT departments_accepted_only_completed CHECK (accepted_on IS NULL OR status = 'completed');

    CREATE TABLE department_status_changes (
      id bigserial PRIMARY KEY,
      department_id bigint NOT NULL REFERENCES departments (id),
      status text NOT NULL CHECK (status IN ('not_started', 'procuring', 'awaiting_funds', 'completed')),
      effective_date date NOT NULL,
      accepted_on date,
      note text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
      changed_by bigint REFERENCES users (id),
      changed_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT status_change_accepted_only_completed CHECK (accepted_on IS NULL OR status = 'completed')
    );
    CREATE INDEX department_status_changes_by_date ON department_status_changes (department_id, effective_date, id);
    CREATE TRIGGER department_status_changes_append_only BEFORE UPDATE OR DELETE ON department_status_changes
      FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER department_status_changes_no_truncate BEFORE TRUNCATE ON department_status_changes
      FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE report_deadlines (
      id bigserial PRIMARY KEY,
      deadline date NOT NULL,
      title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
      created_by bigint NOT NULL REFERENCES users (id),
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE written_reports (
      id bigserial PRIMARY KEY,
      department_id bigint NOT NULL REFERENCES departments (id),
      deadline_id bigint NOT NULL REFERENCES report_deadlines (id),
      body text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
      filed_by bigint NOT NULL REFERENCES users (id),
      filed_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT written_reports_once UNIQUE (department_id, deadline_id)
    );

    CREATE TABLE receipts (
      id bigserial PRIMARY KEY,
      fund_id bigint NOT NULL REFERENCES funds (id),
      department_id bigint NOT NULL REFERENCES departments (id),
      invoice_kind text NOT NULL CHECK (invoice_kind IN ('vat_special', 'vat_ordinary', 'digital', 'general')),
      invoice_code text CHECK (invoice_code ~ '^([0-9]{10}|[0-9]{12})$'),
      invoice_number text NOT NULL CHECK (invoice_number ~ '^([0-9]{8}|[0-9]{20})$'),
      invoice_key text NOT NULL,
      issue_date date NOT NULL,
      seller_name text NOT NULL CHECK (length(seller_name) BETWEEN 1 AND 200),
      seller_tax_id text NOT NULL CHECK (seller_tax_id ~ '^([0-9A-Z]{18}|[0-9A-Z]{15})$'),
      seller_tax_id_override text CHECK (length(seller_tax_id_override) BETWEEN 1 AND 500),
      total numeric(18,2) NOT NULL CHECK (total > 0 AND total < 10000000000000),
      currency char(3) NOT NULL DEFAULT 'CNY' CHECK (currency = 'CNY'),
      status text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'verified', 'rejected', 'withdrawn')),
      status_reason text,
      submitted_by bigint NOT NULL REFERENCES users (id),
      submitted_at timestamptz NOT NULL DEFAULT now(),
      reviewed_by bigint REFERENCES users (id),
      reviewed_at timestamptz,
      CONSTRAINT receipts_kind_code CHECK ((invoice_kind = 'digital') = (invoice_code IS NULL)),
      CONSTRAINT receipts_rejection_reason CHECK (status <> 'rejected' OR length(status_reason) > 0),
      CONSTRAINT receipts_invoice_key CHECK (invoice_key = coalesce(invoice_code, 'digital') || ':' || invoice_number)
    );
    -- One invoice, one claim, across every department and fund; a withdrawn claim frees it.
    CREATE UNIQUE INDEX receipts_invoice_once ON receipts (invoice_key) WHERE status <> 'withdrawn';
    CREATE INDEX receipts_department ON receipts (department_id, id);
    CREATE INDEX receipts_fund_status ON receipts (fund_id, status, id);

    CREATE TABLE receipt_lines (
      id bigserial PRIMARY KEY,
      receipt_id bigint NOT NULL REFERENCES receipts (id),
      line_no integer NOT NULL CHECK (line_no > 0),
      product text NOT NULL CHECK (length(product) BETWEEN 1 AND 200),
      category text NOT NULL CHECK (category IN ('os', 'office', 'antivirus', 'other')),
      licences integer NOT NULL CHECK (licences > 0),
      amount numeric(18,2) NOT NULL CHECK (amount > 0 AND amount < 10000000000000),
      CONSTRAINT receipt_lines_numbered UNIQUE (receipt_id, line_no)
    );
    CREATE TRIGGER receipt_lines_append_only BEFORE UPDATE OR DELETE ON receipt_lines
      FOR EACH ROW EXECUTE FUNCTION refuse_change();

    -- The total equals the lines, checked when the receipt's transaction commits.
    CREATE FUNCTION receipt_check_total() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      lines_total numeric;
    BEGIN
      SELECT coalesce(sum(amount), 0) INTO lines_total FROM receipt_lines WHERE receipt_id = NEW.id;
      IF lines_total <> NEW.total THEN
        RAISE EXCEPTION 'receipt %: total % differs from its lines %', NEW.id, NEW.total, lines_total
          USING ERRCODE = 'check_violation', CONSTRAINT = 'receipt_total_equals_lines';
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER receipts_total_equals_lines AFTER INSERT ON receipts
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION receipt_check_total();

    -- What a receipt claims never changes; only its review state moves, and only forward.
    CREATE FUNCTION receipt_review_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.fund_id, NEW.department_id, NEW.invoice_kind, NEW.invoice_code, NEW.invoice_number, NEW.issue_date,
          NEW.seller_name, NEW.seller_tax_id, NEW.seller_tax_id_override, NEW.total, NEW.submitted_by, NEW.submitted_at)
         IS DISTINCT FROM
         (OLD.fund_id, OLD.department_id, OLD.invoice_kind, OLD.invoice_code, OLD.invoice_number, OLD.issue_date,
          OLD.seller_name, OLD.seller_tax_id, OLD.seller_tax_id_override, OLD.total, OLD.submitted_by, OLD.submitted_at) THEN
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
    CREATE TRIGGER receipts_review_only BEFORE UPDATE ON receipts FOR EACH ROW EXECUTE FUNCTION receipt_review_only();
    CREATE TRIGGER receipts_no_delete BEFORE DELETE ON receipts FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER receipts_no_truncate BEFORE TRUNCATE ON receipts FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER receipt_lines_no_truncate BEFORE TRUNCATE ON receipt_lines FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

    CREATE TABLE receipt_events (
      id bigserial PRIMARY KEY,
      receipt_id bigint NOT NULL REFERENCES receipts (id),
      from_status text,
      to_status text NOT NULL,
      reason text,
      actor_id bigint NOT NULL REFERENCES users (id),
      at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX receipt_events_receipt ON receipt_events (receipt_id, id);
    CREATE TRIGGER receipt_events_append_only BEFORE UPDATE OR DELETE ON receipt_events
      FOR EACH ROW EXECUTE FUNCTION refuse_change();

    -- Uploaded bytes, stored once under DATA_DIR by their SHA-256.
    CREATE TABLE files (
      sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      media_type text NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
      size bigint NOT NULL CHECK (size > 0),
      active_content boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE attachments (
      id bigserial PRIMARY KEY,
      sha256 text NOT NULL REFERENCES files (sha256),
      file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
      receipt_id bigint REFERENCES receipts (id),
      written_report_id bigint REFERENCES written_reports (id),
      uploaded_by bigint NOT NULL REFERENCES users (id),
      uploaded_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT attachments_one_owner CHECK (num_nonnulls(receipt_id, written_report_id) = 1)
    );
    CREATE INDEX attachments_receipt ON attachments (receipt_id);
    CREATE INDEX attachments_written_report ON attachments (written_report_id);
  `);
}

export async function down(): Promise<void> {
  throw new Error('receipts and status history are evidence: never rolled back');
}
