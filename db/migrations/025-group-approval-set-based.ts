import type { Knex } from 'knex';
import { hardenSchema } from '../roles.ts';

/*
 * Coalesced approvals (issue 14), planned as one set instead of entry by entry. The group function of
 * migration 012 walked its items in PL/pgSQL: five statements per entry to plan it, jsonb maps of the
 * running balances copied at every step, and an answer merged in a nested scan that parsed every
 * entry's view once per other entry. A group of 16 took 11–15 ms of the server's CPU, 64 took 45 ms.
 *
 * ledger_approve_prepared now checks the whole group in one statement: each item's pending row,
 * fund, four eyes, idempotency key and period, each posting's account and running balance (in the
 * order the items came, as before). When every item passes, which is the common case, it writes the
 * group as the batch does: canonical forms in one statement, the chain link in a loop that only
 * hashes, then one statement per table. When any item fails a rule, or the database refuses the
 * write, the group goes to the function of migration 012 (now ledger_approve_prepared_in_turn),
 * which posts what can post and refuses the rest one by one, as it always has. Its locks in its order
 * (pending rows, funds, accounts; none for a batch's entries, see below), the same rows written, the
 * same answers.
 *
 * Half of what remained was planning: with a group's arrays as parameters, PostgreSQL judged a fresh
 * plan for each call cheaper than its generic one, and re-planned every statement of this function
 * and of the ledger triggers it fires (the big joins of postings_apply included) at every call. A
 * group is at most 64 entries, so the generic plans fit it: plan_cache_mode = force_generic_plan for
 * the call (the triggers inherit it) took a group of one from 3.4 to 1.6 ms and of 16 to 4.7 ms.
 *
 * Neither posting function compiles its statements to machine code: a batch's estimated costs
 * crossed jit_above_cost, and LLVM spent 25–30 ms of a 1,000-entry batch (and 500 ms on a
 * connection's first) compiling plans that run for a few milliseconds.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER FUNCTION ledger_approve_prepared(jsonb) RENAME TO ledger_approve_prepared_in_turn;

    CREATE FUNCTION ledger_approve_prepared(items jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan SET jit = off AS $$
    DECLARE
      created timestamptz := date_trunc('milliseconds', clock_timestamp());
      created_iso text;
      today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
      items_pass boolean;
      postings_pass boolean;
      p_entries bigint[]; p_accounts bigint[]; p_codes text[]; p_names text[]; p_books text[]; p_sides text[]; p_amounts numeric[]; p_afters numeric[];
      e_ids bigint[]; e_funds bigint[]; e_seqs bigint[]; e_heads text[]; e_approvers bigint[]; canonicals bytea[];
      prevs text[] := '{}';
      hashes text[] := '{}';
      prev text;
      views json[];
    BEGIN
      created_iso := to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
      -- The locks of the in-turn path, in its order: pending rows, their funds, their accounts (each by
      -- id). None for a batch's entries, which only their batch posts: a group that locked one (or its
      -- accounts) and then waited for the fund could deadlock with that batch's approval, which holds
      -- the fund, then its accounts, then decides every entry of the batch.
      PERFORM 1 FROM pending_entries WHERE id IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(items) x) AND batch_id IS NULL
        ORDER BY id FOR UPDATE;
      PERFORM 1 FROM funds
        WHERE id IN (SELECT fund_id FROM pending_entries
                      WHERE id IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(items) x) AND batch_id IS NULL)
        ORDER BY id FOR UPDATE;
      PERFORM 1 FROM accounts
        WHERE (fund_id, code) IN (SELECT pe.fund_id, x->>'account_code' FROM pending_entries pe, jsonb_array_elements(pe.postings) x
                                   WHERE pe.id IN (SELECT (y->>'id')::bigint FROM jsonb_array_elements(items) y) AND pe.batch_id IS NULL)
        ORDER BY id FOR UPDATE;

      -- Every rule of the in-turn path, for every item at once: the row is pending, single and named
      -- once in the group; its approver is not its preparer; an idempotency key is new and used once;
      -- its date is in the fund's open period.
      SELECT coalesce(bool_and(coalesce(
               pe.status = 'pending' AND pe.batch_id IS NULL AND g.times = 1 AND pe.created_by <> g.approver
               AND (g.ikey IS NULL OR (g.key_times = 1 AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.user_id = g.approver AND k.key = g.ikey)))
               AND NOT coalesce(pe.entry_date <= f.closed_through, false) AND pe.entry_date >= f.opening_date AND pe.entry_date <= today,
             false)), false)
        INTO items_pass
        FROM (SELECT (x.i->>'id')::bigint AS id, (x.i->>'approver_id')::bigint AS approver, x.i->>'idempotency_key' AS ikey,
                     count(*) OVER (PARTITION BY x.i->>'id') AS times,
                     count(*) OVER (PARTITION BY x.i->>'approver_id', x.i->>'idempotency_key') AS key_times
                FROM jsonb_array_elements(items) x(i)) g
        LEFT JOIN pending_entries pe ON pe.id = g.id
        LEFT JOIN funds f ON f.id = pe.fund_id;
      IF NOT items_pass THEN
        RETURN ledger_approve_prepared_in_turn(items);
      END IF;

      -- Every posting with its running balance, in the order the items came; each account exists and
      -- no guarded one goes below zero.
      WITH w AS (
        SELECT x.o, pe.id AS entry_id, pe.fund_id, y.n, y.q->>'account_code' AS code, y.q->>'side' AS side, (y.q->>'amount')::numeric(18,2) AS amount
          FROM jsonb_array_elements(items) WITH ORDINALITY x(i, o)
          JOIN pending_entries pe ON pe.id = (x.i->>'id')::bigint
         CROSS JOIN LATERAL jsonb_array_elements(pe.postings) WITH ORDINALITY y(q, n)
      ), r AS (
        SELECT w.*, a.id AS account_id, a.name, a.book, a.guarded,
               a.balance + sum(CASE WHEN w.side = a.normal_side THEN w.amount ELSE -w.amount END)
                             OVER (PARTITION BY a.id ORDER BY w.o, w.n) AS after
          FROM w LEFT JOIN accounts a ON a.fund_id = w.fund_id AND a.code = w.code
      )
      SELECT bool_and(account_id IS NOT NULL) AND NOT coalesce(bool_or(guarded AND after < 0), false),
             array_agg(entry_id ORDER BY o, n), array_agg(account_id ORDER BY o, n), array_agg(code ORDER BY o, n), array_agg(name ORDER BY o, n),
             array_agg(book ORDER BY o, n), array_agg(side ORDER BY o, n), array_agg(amount ORDER BY o, n), array_agg(after ORDER BY o, n)
        INTO postings_pass, p_entries, p_accounts, p_codes, p_names, p_books, p_sides, p_amounts, p_afters
        FROM r;
      IF NOT coalesce(postings_pass, false) THEN
        RETURN ledger_approve_prepared_in_turn(items);
      END IF;

      BEGIN
        -- Each entry's seq (after its fund's head, in the order the items came) and canonical form
        -- (server/ledger/entry-hash.ts, version 2), by fund and seq: the order of the chain.
        SELECT array_agg(c.id ORDER BY c.fund_id, c.seq), array_agg(c.fund_id ORDER BY c.fund_id, c.seq), array_agg(c.seq ORDER BY c.fund_id, c.seq),
               array_agg(c.head_hash ORDER BY c.fund_id, c.seq), array_agg(c.approver ORDER BY c.fund_id, c.seq),
               array_agg(convert_to('[2,' || concat_ws(',',
                 coalesce(to_json(c.fund_id::text)::text, 'null'), coalesce(to_json(c.seq::text)::text, 'null'), coalesce(to_json(to_char(c.entry_date, 'YYYY-MM-DD'))::text, 'null'),
                 coalesce(to_json(c.kind)::text, 'null'), coalesce(to_json(c.memo)::text, 'null'), coalesce(to_json(c.document_no)::text, 'null'), coalesce(to_json(c.department_id::text)::text, 'null'),
                 coalesce(to_json(c.reverses_entry_id::text)::text, 'null'), coalesce(to_json(c.created_by::text)::text, 'null'), coalesce(to_json(c.approver::text)::text, 'null'),
                 coalesce(to_json(created_iso)::text, 'null'), '[' || c.postings_text || ']') || ']', 'UTF8') ORDER BY c.fund_id, c.seq)
          INTO e_ids, e_funds, e_seqs, e_heads, e_approvers, canonicals
          FROM (SELECT pe.id, pe.fund_id, f.head_seq + row_number() OVER (PARTITION BY pe.fund_id ORDER BY x.o) AS seq, f.head_hash,
                       (x.i->>'approver_id')::bigint AS approver, pe.entry_date, pe.kind, pe.memo, pe.document_no, pe.department_id,
                       pe.reverses_entry_id, pe.created_by,
                       (SELECT string_agg('[' || coalesce(to_json(y->>'account_code')::text, 'null') || ',' || coalesce(to_json(y->>'side')::text, 'null') || ','
                                          || coalesce(to_json(((y->>'amount')::numeric(18,2))::text)::text, 'null') || ']', ',' ORDER BY n)
                          FROM jsonb_array_elements(pe.postings) WITH ORDINALITY t(y, n)) AS postings_text
                  FROM jsonb_array_elements(items) WITH ORDINALITY x(i, o)
                  JOIN pending_entries pe ON pe.id = (x.i->>'id')::bigint
                  JOIN funds f ON f.id = pe.fund_id) c;
        FOR k IN 1 .. cardinality(e_ids) LOOP
          IF k = 1 OR e_funds[k] <> e_funds[k - 1] THEN
            prev := e_heads[k];
          END IF;
          prevs[k] := prev;
          prev := encode(sha256(convert_to(prev, 'UTF8') || canonicals[k]), 'hex');
          hashes[k] := prev;
        END LOOP;

        INSERT INTO journal_entries (id, fund_id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id,
                                     created_by, approved_by, created_at, prev_hash, hash)
          SELECT pe.id, pe.fund_id, c.seq, pe.entry_date, pe.kind, pe.memo, pe.document_no, pe.department_id, pe.reverses_entry_id,
                 pe.created_by, c.approver, created, c.prev_hash, c.hash
            FROM unnest(e_ids, e_seqs, prevs, hashes, e_approvers) WITH ORDINALITY AS c(id, seq, prev_hash, hash, approver, k)
            JOIN pending_entries pe ON pe.id = c.id
           ORDER BY c.k;
        INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
          SELECT c.entry_id, c.account_id, c.side, c.amount, c.after
            FROM unnest(p_entries, p_accounts, p_sides, p_amounts, p_afters) WITH ORDINALITY AS c(entry_id, account_id, side, amount, after, n)
           ORDER BY c.n;
        UPDATE pending_entries q SET status = 'posted', decided_by = c.approver, decided_at = now()
          FROM unnest(e_ids, e_approvers) AS c(id, approver) WHERE q.id = c.id;

        -- Each posted entry as GET /journal-entries/:id shows it (journal-read.ts entryView, keys in its
        -- order), with the 凭证字号 the numbering trigger has just given it; in the order the items came.
        SELECT array_agg(json_build_object(
                 'id', pe.id::text, 'fund_id', pe.fund_id::text, 'seq', c.seq,
                 'voucher_year', vn.voucher_year, 'voucher_number', vn.number,
                 'voucher_no', '记-' || repeat('0', greatest(0, 4 - length(vn.number::text))) || vn.number::text,
                 'date', to_char(pe.entry_date, 'YYYY-MM-DD'), 'kind', pe.kind, 'memo', pe.memo, 'document_no', pe.document_no,
                 'department_id', pe.department_id::text, 'reverses_entry_id', pe.reverses_entry_id::text, 'reversed_by_entry_id', NULL,
                 'status', 'posted', 'created_by', pe.created_by::text, 'created_by_name', cu.username,
                 'approved_by', c.approver::text, 'approved_by_name', au.username, 'created_at', created_iso,
                 'prev_hash', c.prev_hash, 'hash', c.hash, 'postings', pl.postings) ORDER BY x.o)
          INTO views
          FROM jsonb_array_elements(items) WITH ORDINALITY x(i, o)
          JOIN unnest(e_ids, e_seqs, prevs, hashes, e_approvers) AS c(id, seq, prev_hash, hash, approver) ON c.id = (x.i->>'id')::bigint
          JOIN pending_entries pe ON pe.id = c.id
          JOIN voucher_numbers vn ON vn.entry_id = c.id
          LEFT JOIN users cu ON cu.id = pe.created_by
          LEFT JOIN users au ON au.id = c.approver
          JOIN (SELECT l.entry_id, json_agg(json_build_object('account_code', l.code, 'account_name', l.name, 'book', l.book, 'side', l.side,
                                                              'amount', l.amount::text, 'balance_after', l.after::text) ORDER BY l.k) AS postings
                  FROM unnest(p_entries, p_codes, p_names, p_books, p_sides, p_amounts, p_afters) WITH ORDINALITY AS l(entry_id, code, name, book, side, amount, after, k)
                 GROUP BY l.entry_id) pl ON pl.entry_id = c.id;

        INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response)
          SELECT (x.i->>'approver_id')::bigint, x.i->>'idempotency_key', x.i->>'request_hash', 200, views[x.o]::jsonb
            FROM jsonb_array_elements(items) WITH ORDINALITY x(i, o)
           WHERE x.i->>'idempotency_key' IS NOT NULL;
        INSERT INTO audit_log (actor_id, actor_username, actor_role, action, object_type, object_id, request_id, ip, before, after)
          SELECT (x.i->>'approver_id')::bigint, x.i->>'approver_username', x.i->>'approver_role', 'ledger.' || (views[x.o]->>'kind') || '_approve',
                 'journal_entry', views[x.o]->>'id', x.i->>'request_id', x.i->>'ip', '{"status":"pending"}', views[x.o]::jsonb
            FROM jsonb_array_elements(items) WITH ORDINALITY x(i, o);
      EXCEPTION WHEN OTHERS THEN
        -- Refused as a group (a trigger or CHECK said no): the in-turn path finds the entry it concerns.
        RETURN ledger_approve_prepared_in_turn(items);
      END;
      RETURN (SELECT json_agg(json_build_object('posted', true, 'entry', v) ORDER BY o) FROM unnest(views) WITH ORDINALITY u(v, o));
    END $$;

    ALTER FUNCTION ledger_approve_batch(jsonb) SET jit = off;

    -- The in-turn path no longer locks a batch's entries either (see the first lock above): its one
    -- statement that locks pending rows gains the same condition, the rest of migration 012's body
    -- is kept as it is.
    DO $patch$
    DECLARE
      def text := pg_get_functiondef('ledger_approve_prepared_in_turn(jsonb)'::regprocedure);
      lock_rows constant text := 'FROM jsonb_array_elements(items) x) ORDER BY id FOR UPDATE;';
    BEGIN
      IF array_length(string_to_array(def, lock_rows), 1) <> 2 THEN
        RAISE EXCEPTION 'ledger_approve_prepared_in_turn: its pending-row lock is not where migration 012 put it';
      END IF;
      EXECUTE replace(def, lock_rows, 'FROM jsonb_array_elements(items) x) AND batch_id IS NULL ORDER BY id FOR UPDATE;');
    END $patch$;
  `);
  await hardenSchema(knex);
}

export async function down(): Promise<void> {
  throw new Error('the set-based group approval is never rolled back');
}
