import type { Knex } from 'knex';

/*
 * Voucher numbers (015) for a statement that posts thousands of entries (an allocation run's
 * approval: one entry per unit). 015 looked up each new entry's year's last number with a subquery
 * evaluated row by row while the same statement was inserting: every lookup walked back over the
 * index entries this statement had already added (invisible to it, so skipped one by one), 12.5
 * million heap visits for 5,000 entries. The last numbers are now read once per fund and year,
 * before anything is inserted. What is numbered, in which order, and why two posters never collide
 * are as 015 says. Replacing a function resets its settings: they are restated here (hardenSchema
 * restates them at every start too).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION journal_entries_number_vouchers() RETURNS trigger LANGUAGE plpgsql
      SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      last_numbers jsonb;
    BEGIN
      SELECT jsonb_object_agg(k.fund_id || ':' || k.year,
                              coalesce((SELECT max(v.number) FROM voucher_numbers v WHERE v.fund_id = k.fund_id AND v.voucher_year = k.year), 0))
        INTO last_numbers
        FROM (SELECT DISTINCT r.fund_id, extract(year FROM r.entry_date)::int AS year FROM new_rows r) k;
      INSERT INTO voucher_numbers (entry_id, fund_id, voucher_year, number)
      SELECT n.id, n.fund_id, n.year,
             (last_numbers ->> (n.fund_id || ':' || n.year))::int + row_number() OVER (PARTITION BY n.fund_id, n.year ORDER BY n.seq)
        FROM (SELECT r.id, r.fund_id, r.seq, extract(year FROM r.entry_date)::int AS year FROM new_rows r) n;
      RETURN NULL;
    END $$;
  `);
}

export async function down(): Promise<void> {
  throw new Error('voucher numbers are never rolled back');
}
