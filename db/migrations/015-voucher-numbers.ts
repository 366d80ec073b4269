import type { Knex } from 'knex';

/*
 * 凭证字号 (记-0001): every posted entry gets a voucher number, counted per fund and per year of its
 * entry date, from 1 and without gaps, in the order entries are posted. The number is assigned by
 * the database when the entry is inserted, so no code path can choose, skip or repeat one:
 * - voucher_numbers holds one row per entry; (fund_id, voucher_year, number) is unique;
 * - the statement-level trigger runs after journal_entries_chain (triggers fire in name order), which
 *   has locked the entries' funds FOR UPDATE: posters to one fund are serialised, so the trigger's
 *   max(number) sees every committed number and two postings never get the same one (the unique key
 *   is the last word). A rolled-back posting takes its number with it: no gap;
 * - the table is derived (only the trigger writes it) and append-only, like the journal itself.
 * The number is not part of the entry's hash: it is a function of the chain's order, checkable from it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE voucher_numbers (
      entry_id bigint PRIMARY KEY REFERENCES journal_entries (id),
      fund_id bigint NOT NULL REFERENCES funds (id),
      voucher_year integer NOT NULL CHECK (voucher_year BETWEEN 1900 AND 9999),
      number integer NOT NULL CHECK (number > 0),
      CONSTRAINT voucher_numbers_unique UNIQUE (fund_id, voucher_year, number)
    );

    INSERT INTO voucher_numbers (entry_id, fund_id, voucher_year, number)
    SELECT e.id, e.fund_id, extract(year FROM e.entry_date)::int,
           row_number() OVER (PARTITION BY e.fund_id, extract(year FROM e.entry_date) ORDER BY e.seq)
      FROM journal_entries e;

    CREATE FUNCTION journal_entries_number_vouchers() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO voucher_numbers (entry_id, fund_id, voucher_year, number)
      SELECT n.id, n.fund_id, n.year,
             coalesce((SELECT max(v.number) FROM voucher_numbers v WHERE v.fund_id = n.fund_id AND v.voucher_year = n.year), 0)
             + row_number() OVER (PARTITION BY n.fund_id, n.year ORDER BY n.seq)
        FROM (SELECT r.id, r.fund_id, r.seq, extract(year FROM r.entry_date)::int AS year FROM new_rows r) n;
      RETURN NULL;
    END $$;
    CREATE TRIGGER journal_entries_voucher_numbers AFTER INSERT ON journal_entries
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_number_vouchers();

    CREATE TRIGGER voucher_numbers_derived BEFORE INSERT OR UPDATE ON voucher_numbers
      FOR EACH ROW EXECUTE FUNCTION refuse_direct_update();
    CREATE TRIGGER voucher_numbers_no_delete BEFORE DELETE ON voucher_numbers FOR EACH ROW EXECUTE FUNCTION refuse_change();
    CREATE TRIGGER voucher_numbers_no_truncate BEFORE TRUNCATE ON voucher_numbers FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
  `);
}

export async function down(): Promise<void> {
  throw new Error('voucher numbers are never rolled back');
}
