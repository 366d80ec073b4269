import type { Knex } from 'knex';
import { hardenSchema } from '../roles.ts';

/*
 * The two statement triggers on postings at province scale (issue 15). Seeding 10 million postings
 * spent three quarters of its time in them, and more per batch the bigger the books grew. Nothing is
 * checked less than before; the same errors are raised, in the same order, with the same constraint
 * names.
 *
 * postings_apply joined the statement's rows to accounts and to journal_entries (twice: the entry and
 * the entry it reverses) in each of its ten statements, and the planner, seeing thousands of new rows,
 * hashed the whole of both tables each time: at 300,000 postings one UPDATE of the fund's figures read
 * 81,500 entries twice for 30,000 postings (390 ms), and the scans grow with the books. Now each
 * distinct entry and account of the statement is read once, by a primary-key probe (a LATERAL … OFFSET 0
 * the planner cannot turn back into a join), and the checks are one pass over those rows, which also sums
 * what they move per account, fund and unit (into arrays the four writes then read, in the order they ran
 * before, so a write that breaks two CHECKs still names the same one).
 *
 * postings_day_balances wrote each day new to an account twice: an INSERT of the closing balance of
 * the day before, then the UPDATE that adds the statement's postings to every day on and after each
 * posting's date — the row just inserted included. A new day is now inserted with its final balance
 * (the account's closing balance before that day, read before this statement, plus the statement's
 * deltas up to that day), and the UPDATE moves only the days that existed before the statement (a
 * data-modifying WITH and the UPDATE after it see the same snapshot, so the UPDATE cannot see the rows
 * the INSERT adds). The fund row, locked by postings_apply which fires first, keeps two transactions from
 * adding the same day: a clash would be a unique violation, not a skipped row (no ON CONFLICT any more).
 */

// Each distinct entry and account of the statement, read by one primary-key probe each, and the rows
// with what the checks and figures need. An entry's figure kind is the kind of the entry it reverses.
const statementRows = `
  ent AS MATERIALIZED (
    SELECT x.entry_id, e.id AS found, e.fund_id, e.created_txid, e.kind,
           CASE WHEN e.kind = 'reversal' THEN (SELECT t.kind FROM journal_entries t WHERE t.id = e.reverses_entry_id) ELSE e.kind END AS figure_kind
      FROM (SELECT DISTINCT entry_id FROM new_rows) x
      LEFT JOIN LATERAL (SELECT j.id, j.fund_id, j.created_txid, j.kind, j.reverses_entry_id
                           FROM journal_entries j WHERE j.id = x.entry_id OFFSET 0) e ON true),
  acc AS MATERIALIZED (
    SELECT x.account_id, a.id AS found, a.fund_id, a.department_id, a.kind, a.normal_side, a.guarded, a.balance
      FROM (SELECT DISTINCT account_id FROM new_rows) x
      LEFT JOIN LATERAL (SELECT c.id, c.fund_id, c.department_id, c.kind, c.normal_side, c.guarded, c.balance
                           FROM accounts c WHERE c.id = x.account_id OFFSET 0) a ON true),
  r AS MATERIALIZED (
    SELECT n.id, n.entry_id, n.account_id, n.balance_after,
           e.found AS entry_found, e.fund_id AS entry_fund, e.created_txid, e.kind AS entry_kind, e.figure_kind,
           a.found AS account_found, a.fund_id, a.department_id, a.kind AS account_kind, a.guarded, a.balance,
           CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END AS delta
      FROM new_rows n JOIN ent e ON e.entry_id = n.entry_id JOIN acc a ON a.account_id = n.account_id)`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION postings_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      orphan boolean;
      too_few boolean;
      unbalanced boolean;
      reserved boolean;
      quota boolean;
      goes_negative boolean;
      running_wrong boolean;
      account_ids bigint[];
      account_deltas numeric[];
      account_counts bigint[];
      fund_ids bigint[];
      fund_appropriated numeric[];
      fund_allocated numeric[];
      fund_disbursed numeric[];
      unit_funds bigint[];
      unit_departments bigint[];
      unit_allocated numeric[];
      unit_disbursed numeric[];
    BEGIN
      -- Every check over the statement's rows, and what they move, in one pass.
      WITH ${statementRows}
      SELECT c.orphan, c.reserved, c.quota, c.goes_negative, c.running_wrong,
             ac.ids, ac.deltas, ac.counts, fu.ids, fu.appropriated, fu.allocated, fu.disbursed,
             un.funds, un.departments, un.allocated, un.disbursed
        INTO orphan, reserved, quota, goes_negative, running_wrong,
             account_ids, account_deltas, account_counts, fund_ids, fund_appropriated, fund_allocated, fund_disbursed,
             unit_funds, unit_departments, unit_allocated, unit_disbursed
        FROM (SELECT coalesce(bool_or(w.entry_found IS NULL OR w.account_found IS NULL
                                      OR w.created_txid <> txid_current() OR w.entry_fund <> w.fund_id), false) AS orphan,
                     coalesce(bool_or(w.account_kind IN ('revenue', 'budget_revenue') AND w.figure_kind IS DISTINCT FROM 'appropriation'), false) AS reserved,
                     EXISTS (SELECT 1 FROM r q
                              WHERE q.entry_kind = 'manual' AND q.account_kind IN ('cash', 'funds_on_hand')
                              GROUP BY q.entry_id, q.account_kind HAVING sum(q.delta) > 0) AS quota,
                     coalesce(bool_or(w.guarded AND w.expected < 0), false) AS goes_negative,
                     coalesce(bool_or(w.balance_after <> w.expected), false) AS running_wrong
                FROM (SELECT q.*, q.balance + sum(q.delta) OVER (PARTITION BY q.account_id ORDER BY q.id) AS expected FROM r q) w) c,
             (SELECT array_agg(g.account_id) AS ids, array_agg(g.delta) AS deltas, array_agg(g.n) AS counts
                FROM (SELECT q.account_id, sum(q.delta) AS delta, count(*) AS n FROM r q GROUP BY q.account_id) g) ac,
             (SELECT array_agg(g.fund_id) AS ids, array_agg(g.appropriated) AS appropriated,
                     array_agg(g.allocated) AS allocated, array_agg(g.disbursed) AS disbursed
                FROM (SELECT q.fund_id,
                             coalesce(sum(q.delta) FILTER (WHERE q.account_kind = 'revenue' AND q.figure_kind = 'appropriation'), 0) AS appropriated,
                             coalesce(sum(q.delta) FILTER (WHERE q.account_kind = 'expense' AND q.figure_kind IN ('allocation', 'clawback')), 0) AS allocated,
                             coalesce(sum(q.delta) FILTER (WHERE q.account_kind = 'budget_expenditure' AND q.figure_kind IN ('disbursement', 'refund')), 0) AS disbursed
                        FROM r q GROUP BY q.fund_id) g) fu,
             (SELECT array_agg(g.fund_id) AS funds, array_agg(g.department_id) AS departments,
                     array_agg(g.allocated) AS allocated, array_agg(g.disbursed) AS disbursed
                FROM (SELECT q.fund_id, q.department_id,
                             coalesce(sum(q.delta) FILTER (WHERE q.account_kind = 'expense'), 0) AS allocated,
                             coalesce(sum(q.delta) FILTER (WHERE q.account_kind = 'budget_expenditure'), 0) AS disbursed
                        FROM r q
                       WHERE (q.account_kind = 'expense' AND q.figure_kind IN ('allocation', 'clawback'))
                          OR (q.account_kind = 'budget_expenditure' AND q.figure_kind IN ('disbursement', 'refund'))
                       GROUP BY q.fund_id, q.department_id) g) un;
      IF orphan THEN
        RAISE EXCEPTION 'a posting needs an existing account and an entry of the same fund created in the same transaction'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'posting_entry_open';
      END IF;
      -- Over all the postings of the statement's entries (an entry's earlier statements included).
      SELECT coalesce(bool_or(g.n < 2), false), coalesce(bool_or(g.unbalanced), false)
        INTO too_few, unbalanced
        FROM (SELECT b.entry_id, sum(b.n) AS n, bool_or(b.net <> 0) AS unbalanced
                FROM (SELECT p.entry_id, a.book, count(*) AS n,
                             sum(CASE WHEN p.side = 'debit' THEN p.amount ELSE -p.amount END) AS net
                        FROM postings p
                        JOIN LATERAL (SELECT c.book FROM accounts c WHERE c.id = p.account_id OFFSET 0) a ON true
                       WHERE p.entry_id = ANY (ARRAY(SELECT DISTINCT entry_id FROM new_rows))
                       GROUP BY p.entry_id, a.book) b
               GROUP BY b.entry_id) g;
      IF too_few THEN
        RAISE EXCEPTION 'an entry needs at least 2 postings, inserted together'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_has_two_postings';
      END IF;
      IF unbalanced THEN
        RAISE EXCEPTION 'debits and credits differ within a book'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_books_balance';
      END IF;
      IF reserved THEN
        RAISE EXCEPTION 'only an appropriation or its reversal may post to 4001 or 6001'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'appropriation_accounts_reserved';
      END IF;
      IF quota THEN
        RAISE EXCEPTION 'a manual entry cannot raise 1011 or 8001: quota comes only from an appropriation'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'manual_entry_creates_no_quota';
      END IF;
      IF goes_negative THEN
        RAISE EXCEPTION 'a guarded account would go below zero'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'account_guarded_nonnegative';
      END IF;
      IF running_wrong THEN
        RAISE EXCEPTION 'a posting''s running balance does not follow from the account balance'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'posting_running_balance';
      END IF;
      -- In this order, as before: a write that breaks two CHECKs names the same one.
      UPDATE accounts a
         SET balance = a.balance + s.delta, posting_count = a.posting_count + s.n
        FROM unnest(account_ids, account_deltas, account_counts) AS s(account_id, delta, n)
       WHERE a.id = s.account_id;
      UPDATE funds f
         SET appropriated = f.appropriated + s.appropriated, allocated = f.allocated + s.allocated, disbursed = f.disbursed + s.disbursed
        FROM unnest(fund_ids, fund_appropriated, fund_allocated, fund_disbursed) AS s(fund_id, appropriated, allocated, disbursed)
       WHERE f.id = s.fund_id;
      -- An UPDATE of the units that have figures, then an INSERT of those that have none: not
      -- INSERT … ON CONFLICT, whose proposed row meets the CHECKs before the conflict is found.
      UPDATE fund_unit_figures u
         SET allocated = u.allocated + s.allocated, disbursed = u.disbursed + s.disbursed
        FROM unnest(unit_funds, unit_departments, unit_allocated, unit_disbursed) AS s(fund_id, department_id, allocated, disbursed)
       WHERE u.fund_id = s.fund_id AND u.department_id = s.department_id;
      INSERT INTO fund_unit_figures (fund_id, department_id, allocated, disbursed)
      SELECT s.fund_id, s.department_id, s.allocated, s.disbursed
        FROM unnest(unit_funds, unit_departments, unit_allocated, unit_disbursed) AS s(fund_id, department_id, allocated, disbursed)
       WHERE NOT EXISTS (SELECT 1 FROM fund_unit_figures u WHERE u.fund_id = s.fund_id AND u.department_id = s.department_id);
      RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION postings_day_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      WITH moved AS (
        SELECT g.account_id, g.day,
               CASE WHEN (SELECT a.normal_side FROM accounts a WHERE a.id = g.account_id) = 'debit'
                    THEN g.dr - g.cr ELSE g.cr - g.dr END AS delta
          FROM (SELECT n.account_id, d.day,
                       coalesce(sum(n.amount) FILTER (WHERE n.side = 'debit'), 0) AS dr,
                       coalesce(sum(n.amount) FILTER (WHERE n.side = 'credit'), 0) AS cr
                  FROM new_rows n
                  JOIN (SELECT x.entry_id, (SELECT e.entry_date FROM journal_entries e WHERE e.id = x.entry_id) AS day
                          FROM (SELECT DISTINCT entry_id FROM new_rows) x) d ON d.entry_id = n.entry_id
                 GROUP BY n.account_id, d.day) g
      ),
      added AS (
        INSERT INTO account_day_balances (account_id, day, balance)
        SELECT r.account_id, r.day, coalesce(p.balance, 0) + r.upto
          FROM (SELECT m.account_id, m.day, sum(m.delta) OVER (PARTITION BY m.account_id ORDER BY m.day) AS upto
                  FROM moved m) r
          LEFT JOIN LATERAL (SELECT b.day, b.balance FROM account_day_balances b
                              WHERE b.account_id = r.account_id AND b.day <= r.day
                              ORDER BY b.day DESC LIMIT 1) p ON true
         WHERE p.day IS DISTINCT FROM r.day
        RETURNING 1
      )
      -- OFFSET 0 keeps the lateral probe a probe (a subquery the planner cannot flatten into a join).
      UPDATE account_day_balances b
         SET balance = b.balance + s.delta
        FROM (SELECT l.account_id, l.day, sum(m.delta) AS delta
                FROM moved m
                CROSS JOIN LATERAL (SELECT b2.account_id, b2.day FROM account_day_balances b2
                                     WHERE b2.account_id = m.account_id AND b2.day >= m.day OFFSET 0) l
               GROUP BY l.account_id, l.day) s
       WHERE b.account_id = s.account_id AND b.day = s.day;
      RETURN NULL;
    END $$;
  `);
  await hardenSchema(knex);
}

export async function down(): Promise<void> {
  throw new Error('the day-balance trigger is never rolled back');
}
