import type { Knex } from 'knex';

/*
 * Posting at province scale (issue 15): two ledger triggers cost far more than their checks need,
 * found by timing a seeded batch (pg_stat_user_functions, auto_explain of the nested statements).
 * Nothing is checked less than before.
 *
 * - Voucher numbers (015): the next number of each (fund, year) was read with a max() per new
 *   row, inside the INSERT that adds the numbers. Each probe walks the unique index down from its
 *   top and so steps over every number this same statement has already inserted (not yet visible to
 *   it): a batch of n entries visited n²/2 index entries (85 s of a 150,000-posting seed). The last
 *   number of each (fund, year) is now read once, in a statement before the INSERT; the funds are
 *   still locked by the chain trigger that fires before this one, so the reading is the same.
 * - The derived-table guard (refuse_direct_update, 002/011: only the ledger's own triggers, run as
 *   the owner, may write balances, figures, day balances and voucher numbers) ran once per row:
 *   ~7 PL/pgSQL calls with a catalogue look-up per entry posted. Its test reads nothing of the row
 *   (the trigger depth and the current role), so it now runs once per statement: every statement
 *   that would write such a row is refused as before — and one that would write none is refused too.
 * - Day balances (013): the rows a statement's postings move (each account's days on and after the
 *   posting's date) were found by a join the planner ran as a hash join over every day balance of
 *   every fund (584,000 rows read for 20,000 moved at 1 million postings; 5 million at 10 million),
 *   so each batch cost in proportion to the whole table. They are now found by one index range
 *   probe per (account, day) of the statement: the work follows the statement's own rows.
 * - postings_apply (002/006/010) checks that each entry of the statement has two postings and that
 *   its books balance, over all the entry's postings (`p.entry_id IN (SELECT DISTINCT entry_id FROM
 *   new_rows)`). The planner, guessing 200 distinct entries, merge-joined that list with the whole
 *   postings_entry index: 783,000 index entries read twice per batch at 1 million postings. The list
 *   is now an array (`= ANY (ARRAY(…))`), which the index answers entry by entry. Same rows, same
 *   checks; only those two lines of the function change (rewritten from its catalogue definition).
 */
const guarded: Array<[string, string]> = [
  ['funds', 'funds_derived'],
  ['accounts', 'accounts_derived'],
  ['fund_unit_figures', 'fund_unit_figures_derived'],
  ['account_day_balances', 'account_day_balances_derived'],
  ['voucher_numbers', 'voucher_numbers_derived'],
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION journal_entries_number_vouchers() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      fund_ids bigint[];
      years integer[];
      last_numbers integer[];
    BEGIN
      SELECT array_agg(k.fund_id), array_agg(k.year),
             array_agg(coalesce((SELECT max(v.number) FROM voucher_numbers v
                                  WHERE v.fund_id = k.fund_id AND v.voucher_year = k.year), 0))
        INTO fund_ids, years, last_numbers
        FROM (SELECT DISTINCT r.fund_id, extract(year FROM r.entry_date)::int AS year FROM new_rows r) k;
      INSERT INTO voucher_numbers (entry_id, fund_id, voucher_year, number)
      SELECT n.id, n.fund_id, n.year, l.last_number + row_number() OVER (PARTITION BY n.fund_id, n.year ORDER BY n.seq)
        FROM (SELECT r.id, r.fund_id, r.seq, extract(year FROM r.entry_date)::int AS year FROM new_rows r) n
        JOIN unnest(fund_ids, years, last_numbers) AS l(fund_id, year, last_number)
          ON l.fund_id = n.fund_id AND l.year = n.year;
      RETURN NULL;
    END $$;
  `);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION postings_day_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Days new to an account start from its closing balance of the day before (read before any
      -- delta of this statement is added, so every row below gets the statement's deltas once).
      INSERT INTO account_day_balances (account_id, day, balance)
      SELECT k.account_id, k.day,
             coalesce((SELECT b.balance FROM account_day_balances b
                        WHERE b.account_id = k.account_id AND b.day < k.day
                        ORDER BY b.day DESC LIMIT 1), 0)
        FROM (SELECT DISTINCT n.account_id, e.entry_date AS day
                FROM new_rows n JOIN journal_entries e ON e.id = n.entry_id) k
      ON CONFLICT (account_id, day) DO NOTHING;
      -- OFFSET 0 keeps the lateral probe a probe (a subquery the planner cannot flatten into a join).
      UPDATE account_day_balances b
         SET balance = b.balance + s.delta
        FROM (SELECT l.account_id, l.day, sum(d.delta) AS delta
                FROM (SELECT n.account_id, e.entry_date AS day,
                             sum(CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END) AS delta
                        FROM new_rows n
                        JOIN accounts a ON a.id = n.account_id
                        JOIN journal_entries e ON e.id = n.entry_id
                       GROUP BY n.account_id, e.entry_date) d
                CROSS JOIN LATERAL (SELECT b2.account_id, b2.day FROM account_day_balances b2
                                     WHERE b2.account_id = d.account_id AND b2.day >= d.day OFFSET 0) l
               GROUP BY l.account_id, l.day) s
       WHERE b.account_id = s.account_id AND b.day = s.day;
      RETURN NULL;
    END $$;
  `);
  const apply = (await knex.raw(`SELECT pg_get_functiondef('postings_apply'::regproc) AS def`)).rows[0].def as string;
  const listed = 'p.entry_id IN (SELECT DISTINCT entry_id FROM new_rows)';
  if (apply.split(listed).length !== 3) throw new Error('postings_apply is not the function this migration rewrites');
  await knex.raw(apply.replaceAll(listed, 'p.entry_id = ANY (ARRAY(SELECT DISTINCT entry_id FROM new_rows))'));
  for (const [table, trigger] of guarded) {
    const events = table === 'funds' || table === 'accounts' ? 'UPDATE' : 'INSERT OR UPDATE';
    await knex.raw(`
      DROP TRIGGER ${trigger} ON ${table};
      CREATE TRIGGER ${trigger} BEFORE ${events} ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION refuse_direct_update();
    `);
  }
}

export async function down(): Promise<void> {
  throw new Error('the ledger guards are never rolled back');
}
