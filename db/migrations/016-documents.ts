import type { Knex } from 'knex';

/*
 * What an invoice and the documents issued from it say besides the lines:
 * - receipts keep the invoice's 税额 and 购买方. 价税合计 is never stored as typed: it is a generated
 *   column, total + tax_amount, so it cannot disagree with the figures it sums. Like every other
 *   figure of a submitted receipt they never change (a second trigger beside receipt_review_only,
 *   which stays as landed);
 * - bulletins (通报) are numbered issues, 快报第N期 per year: the counter row is locked until the
 *   issue commits, so two accountants issuing at once get consecutive numbers and a failed issue gives
 *   its number back. Each issue keeps its bytes and SHA-256, to be checked like a statement.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE receipts
      ADD COLUMN tax_amount numeric(18,2) NOT NULL DEFAULT 0 CHECK (tax_amount >= 0 AND tax_amount < 10000000000000),
      ADD COLUMN total_with_tax numeric(18,2) GENERATED ALWAYS AS (total + tax_amount) STORED,
      ADD COLUMN buyer_name text CHECK (length(buyer_name) BETWEEN 1 AND 200);

    CREATE FUNCTION receipt_invoice_figures_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (NEW.tax_amount, NEW.buyer_name) IS DISTINCT FROM (OLD.tax_amount, OLD.buyer_name) THEN
        RAISE EXCEPTION 'a submitted receipt is never edited; withdraw it and submit again'
          USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'append_only';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER receipts_invoice_figures_fixed BEFORE UPDATE ON receipts FOR EACH ROW EXECUTE FUNCTION receipt_invoice_figures_fixed();

    CREATE TABLE bulletin_counters (
      year integer PRIMARY KEY CHECK (year BETWEEN 1900 AND 2999),
      last_no integer NOT NULL CHECK (last_no > 0)
    );

    CREATE TABLE bulletins (
      id bigserial PRIMARY KEY,
      year integer NOT NULL,
      issue_no integer NOT NULL CHECK (issue_no > 0),
      document_no text NOT NULL CHECK (length(document_no) BETWEEN 1 AND 100),
      issuing_office text NOT NULL CHECK (length(issuing_office) BETWEEN 1 AND 200),
      as_of date NOT NULL,
      content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
      heads jsonb NOT NULL,
      sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      size integer NOT NULL CHECK (size > 0),
      pdf bytea NOT NULL,
      issued_by bigint NOT NULL REFERENCES users (id),
      issued_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT bulletins_numbered_once UNIQUE (year, issue_no),
      CONSTRAINT bulletins_same_content_once UNIQUE (content_hash)
    );
    CREATE TRIGGER bulletins_append_only BEFORE UPDATE OR DELETE ON bulletins FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER bulletins_no_truncate BEFORE TRUNCATE ON bulletins FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('receipts and issued bulletins are evidence: never rolled back');
}
