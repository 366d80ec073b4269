import type { Knex } from 'knex';
import { hardenSchema } from '../roles.ts';

/*
 * Batch approval (issue 14), without changing what the database checks: ledger_approve_batch (012)
 * built each entry's canonical form inside its chain loop, one expression evaluation after another;
 * it now builds them for the whole batch in one statement (an entry's seq follows from its
 * position) and the loop does only what must be sequential, the chain link. The voucher-number and
 * derived-guard costs a batch also paid are mended in migration 021.
 *
 * Every posting rewrites its accounts' balance rows (and the fund's, the unit's figures and the day
 * balances). With full pages each new row version went to another page: after a million postings the
 * accounts table was 11,166 pages for 1,478 pages of live rows, every balance update also wrote the
 * table's indexes, and the planner scanned the whole table where it wanted many accounts. Room left on
 * each page lets an update stay on its page (a HOT update: no index entry, no bloat); the columns it
 * changes are in no index. New pages get the room; a VACUUM FULL gives it to existing ones.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE funds SET (fillfactor = 50);
    ALTER TABLE accounts SET (fillfactor = 50);
    ALTER TABLE fund_unit_figures SET (fillfactor = 70);
    ALTER TABLE account_day_balances SET (fillfactor = 70);

    CREATE OR REPLACE FUNCTION ledger_approve_batch(p jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      approver bigint := (p->>'approver_id')::bigint;
      b journal_entry_batches%ROWTYPE;
      f record;
      created timestamptz := date_trunc('milliseconds', clock_timestamp());
      created_iso text;
      overdrawn boolean;
      missing boolean;
      canonicals bytea[];
      p_entries bigint[];
      p_accounts bigint[];
      p_sides text[];
      p_amounts numeric[];
      p_afters numeric[];
      prev text;
      seq bigint;
      ids bigint[] := '{}';
      seqs bigint[] := '{}';
      prevs text[] := '{}';
      hashes text[] := '{}';
      result json;
    BEGIN
      SELECT * INTO b FROM journal_entry_batches WHERE id = (p->>'batch_id')::bigint FOR UPDATE;
      IF NOT FOUND OR b.status <> 'pending' THEN
        RAISE EXCEPTION 'not_pending';
      END IF;
      IF b.created_by = approver THEN
        RAISE EXCEPTION 'same_accountant';
      END IF;
      IF p->>'idempotency_key' IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES (approver, p->>'idempotency_key', p->>'request_hash')
          ON CONFLICT (user_id, key) DO NOTHING;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'idempotency_key_taken';
        END IF;
      END IF;
      SELECT id, head_seq, head_hash, opening_date, closed_through INTO f FROM funds WHERE id = b.fund_id FOR UPDATE;
      IF EXISTS (SELECT 1 FROM pending_entries pe WHERE pe.batch_id = b.id
                    AND (pe.entry_date <= f.closed_through OR pe.entry_date < f.opening_date
                         OR pe.entry_date > (now() AT TIME ZONE 'Asia/Shanghai')::date)) THEN
        RAISE EXCEPTION 'period';
      END IF;
      PERFORM 1 FROM accounts
        WHERE fund_id = b.fund_id
          AND code IN (SELECT DISTINCT x->>'account_code' FROM pending_entries pe, jsonb_array_elements(pe.postings) x WHERE pe.batch_id = b.id)
        ORDER BY id FOR UPDATE;

      -- Every posting of the batch with its running balance, in the order the entries go in.
      WITH w AS (
        SELECT pe.id AS entry_id, pe.position, x.n, x.p->>'account_code' AS code, x.p->>'side' AS side, (x.p->>'amount')::numeric(18,2) AS amount
          FROM pending_entries pe, jsonb_array_elements(pe.postings) WITH ORDINALITY x(p, n)
         WHERE pe.batch_id = b.id
      ), r AS (
        SELECT w.*, a.id AS account_id, a.guarded,
               a.balance + sum(CASE WHEN w.side = a.normal_side THEN w.amount ELSE -w.amount END)
                             OVER (PARTITION BY a.id ORDER BY w.position, w.n) AS after
          FROM w LEFT JOIN accounts a ON a.fund_id = b.fund_id AND a.code = w.code
      )
      SELECT bool_or(account_id IS NULL), bool_or(guarded AND after < 0),
             array_agg(entry_id ORDER BY position, n), array_agg(account_id ORDER BY position, n), array_agg(side ORDER BY position, n),
             array_agg(amount ORDER BY position, n), array_agg(after ORDER BY position, n)
        INTO missing, overdrawn, p_entries, p_accounts, p_sides, p_amounts, p_afters
        FROM r;
      IF missing THEN
        RAISE EXCEPTION 'account_missing';
      END IF;
      IF overdrawn THEN
        RAISE EXCEPTION 'insufficient_balance';
      END IF;

      created_iso := to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
      -- Each entry's canonical form, built for the whole batch in one statement (its seq follows from
      -- its position); only the chain link itself, hash after hash, is left to the loop.
      SELECT array_agg(c.id ORDER BY c.seq), array_agg(c.seq ORDER BY c.seq),
             array_agg(convert_to('[2,' || concat_ws(',',
               coalesce(to_json(c.fund_id::text)::text, 'null'), coalesce(to_json(c.seq::text)::text, 'null'), coalesce(to_json(to_char(c.entry_date, 'YYYY-MM-DD'))::text, 'null'),
               coalesce(to_json(c.kind)::text, 'null'), coalesce(to_json(c.memo)::text, 'null'), coalesce(to_json(c.document_no)::text, 'null'), coalesce(to_json(c.department_id::text)::text, 'null'),
               coalesce(to_json(c.reverses_entry_id::text)::text, 'null'), coalesce(to_json(b.created_by::text)::text, 'null'), coalesce(to_json(approver::text)::text, 'null'),
               coalesce(to_json(created_iso)::text, 'null'), '[' || c.postings_text || ']') || ']', 'UTF8') ORDER BY c.seq)
        INTO ids, seqs, canonicals
        FROM (SELECT pe.id, pe.fund_id, f.head_seq + row_number() OVER (ORDER BY pe.position) AS seq, pe.entry_date, pe.kind, pe.memo, pe.document_no,
                     pe.department_id, pe.reverses_entry_id,
                     (SELECT string_agg('[' || coalesce(to_json(x->>'account_code')::text, 'null') || ',' || coalesce(to_json(x->>'side')::text, 'null') || ','
                                        || coalesce(to_json(((x->>'amount')::numeric(18,2))::text)::text, 'null') || ']', ',' ORDER BY n)
                        FROM jsonb_array_elements(pe.postings) WITH ORDINALITY t(x, n)) AS postings_text
                FROM pending_entries pe WHERE pe.batch_id = b.id) c;
      prev := f.head_hash;
      seq := f.head_seq;
      FOR i IN 1 .. cardinality(ids) LOOP
        prevs[i] := prev;
        prev := encode(sha256(convert_to(prev, 'UTF8') || canonicals[i]), 'hex');
        hashes[i] := prev;
      END LOOP;
      seq := seq + cardinality(ids);

      INSERT INTO journal_entries (id, fund_id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id,
                                   created_by, approved_by, created_at, prev_hash, hash)
        SELECT pe.id, pe.fund_id, c.seq, pe.entry_date, pe.kind, pe.memo, pe.document_no, pe.department_id, pe.reverses_entry_id,
               b.created_by, approver, created, c.prev_hash, c.hash
          FROM unnest(ids, seqs, prevs, hashes) AS c(id, seq, prev_hash, hash)
          JOIN pending_entries pe ON pe.id = c.id
         ORDER BY c.seq;
      INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
        SELECT c.entry_id, c.account_id, c.side, c.amount, c.after
          FROM unnest(p_entries, p_accounts, p_sides, p_amounts, p_afters) WITH ORDINALITY AS c(entry_id, account_id, side, amount, after, n)
         ORDER BY c.n;
      UPDATE pending_entries SET status = 'posted', decided_by = approver, decided_at = now() WHERE batch_id = b.id;
      UPDATE journal_entry_batches SET status = 'posted', decided_by = approver, decided_at = now() WHERE id = b.id;

      -- As approveBatch answers: a thousand entries echoed in full would be megabytes; each is one GET away.
      result := json_build_object('id', b.id::text, 'status', 'posted',
        'items', (SELECT json_agg(json_build_object('id', c.id::text, 'seq', c.seq, 'date', to_char(pe.entry_date, 'YYYY-MM-DD'), 'hash', c.hash) ORDER BY c.seq)
                    FROM unnest(ids, seqs, hashes) AS c(id, seq, hash) JOIN pending_entries pe ON pe.id = c.id),
        'head_hash', prev);
      INSERT INTO audit_log (actor_id, actor_username, actor_role, action, object_type, object_id, request_id, ip, before, after)
        VALUES (approver, p->>'approver_username', p->>'approver_role', 'ledger.batch_approve', 'journal_entry_batch', b.id::text,
                p->>'request_id', p->>'ip', '{"status":"pending"}',
                jsonb_build_object('entries', cardinality(ids), 'first_seq', seqs[1], 'last_seq', seq, 'head_hash', prev));
      IF p->>'idempotency_key' IS NOT NULL THEN
        UPDATE idempotency_keys SET status_code = 200, response = result::jsonb WHERE user_id = approver AND key = p->>'idempotency_key';
      END IF;
      RETURN result;
    END $$;

    -- Every other path that posts (allocation run, payment and bulk payment approval, refund,
    -- clawback, and the one-at-a-time approval that explains a refusal), in one call inside the
    -- caller's transaction: lock the fund, check the period, lock the accounts (id order), compute
    -- each posting's running balance, refuse an overdraft or an allocation beyond the appropriation,
    -- link the chain, write entries and postings, answer the posted entries with their 凭证字号. The
    -- ledger triggers check everything again. A rule it checks is never raised: it answers
    -- {"refused": reason} having written nothing, so the caller's transaction stays usable and
    -- server/ledger/post-entries.ts answers through its own path, which explains the refusal (or opens
    -- the sub-accounts of a unit the entries name for the first time). The shape rules (balanced
    -- books, amounts, reserved accounts, a manual entry's quota) need no balances: TypeScript checks
    -- them before the call.
    CREATE FUNCTION ledger_post_drafts(p jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      f record;
      preparer bigint := (p->>'created_by')::bigint;
      approver bigint := (p->>'approved_by')::bigint;
      today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
      created timestamptz := date_trunc('milliseconds', clock_timestamp());
      created_iso text;
      missing boolean;
      overdrawn boolean;
      over_appropriated boolean;
      l_entry integer[]; l_account bigint[]; l_code text[]; l_name text[]; l_book text[]; l_side text[]; l_amount numeric[]; l_after numeric[];
      ids bigint[];
      canonicals bytea[];
      prevs text[] := '{}';
      hashes text[] := '{}';
      prev text;
      views json;
    BEGIN
      created_iso := to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
      SELECT id, head_seq, head_hash, appropriated, allocated, opening_date, closed_through INTO f
        FROM funds WHERE id = (p->>'fund_id')::bigint FOR UPDATE;
      IF NOT FOUND THEN
        RETURN json_build_object('refused', 'fund_missing');
      END IF;
      IF EXISTS (SELECT 1 FROM jsonb_array_elements(p->'entries') x
                  WHERE (x->>'date')::date <= f.closed_through OR (x->>'date')::date < f.opening_date OR (x->>'date')::date > today) THEN
        RETURN json_build_object('refused', 'period');
      END IF;
      PERFORM 1 FROM accounts a
        WHERE a.fund_id = f.id
          AND a.code IN (SELECT y->>'code' FROM jsonb_array_elements(p->'entries') x, jsonb_array_elements(x->'postings') y)
        ORDER BY a.id FOR UPDATE;

      -- Every posting with its running balance, in the order the entries go in; the fund's figures
      -- after each entry (invariant 10: a reversal moves the figure of what it reverses).
      WITH w AS (
        SELECT x.i::integer AS i, y.n::integer AS n, y.q->>'code' AS code, y.q->>'side' AS side,
               (y.q->>'amount')::numeric(18,2) AS amount, x.e->>'figure_kind' AS figure
          FROM jsonb_array_elements(p->'entries') WITH ORDINALITY x(e, i)
         CROSS JOIN LATERAL jsonb_array_elements(x.e->'postings') WITH ORDINALITY y(q, n)
      ), r AS (
        SELECT w.*, a.id AS account_id, a.name, a.book, a.guarded, a.kind AS account_kind,
               CASE WHEN w.side = a.normal_side THEN w.amount ELSE -w.amount END AS effect,
               a.balance + sum(CASE WHEN w.side = a.normal_side THEN w.amount ELSE -w.amount END)
                             OVER (PARTITION BY a.id ORDER BY w.i, w.n) AS after
          FROM w LEFT JOIN accounts a ON a.fund_id = f.id AND a.code = w.code
      ), t AS (
        SELECT i, coalesce(sum(effect) FILTER (WHERE account_kind = 'revenue' AND figure = 'appropriation'), 0) AS d_app,
                  coalesce(sum(effect) FILTER (WHERE account_kind = 'expense' AND figure IN ('allocation', 'clawback')), 0) AS d_alloc
          FROM r GROUP BY i
      )
      SELECT bool_or(r.account_id IS NULL), bool_or(r.guarded AND r.after < 0),
             (SELECT coalesce(bool_or(f.allocated + z.cum_alloc > f.appropriated + z.cum_app), false)
                FROM (SELECT sum(d_alloc) OVER (ORDER BY i) AS cum_alloc, sum(d_app) OVER (ORDER BY i) AS cum_app FROM t) z),
             array_agg(r.i ORDER BY r.i, r.n), array_agg(r.account_id ORDER BY r.i, r.n), array_agg(r.code ORDER BY r.i, r.n),
             array_agg(r.name ORDER BY r.i, r.n), array_agg(r.book ORDER BY r.i, r.n), array_agg(r.side ORDER BY r.i, r.n),
             array_agg(r.amount ORDER BY r.i, r.n), array_agg(r.after ORDER BY r.i, r.n)
        INTO missing, overdrawn, over_appropriated, l_entry, l_account, l_code, l_name, l_book, l_side, l_amount, l_after
        FROM r;
      IF missing THEN
        RETURN json_build_object('refused', 'account_missing');
      END IF;
      IF overdrawn THEN
        RETURN json_build_object('refused', 'insufficient_balance');
      END IF;
      IF over_appropriated THEN
        RETURN json_build_object('refused', 'over_appropriation');
      END IF;

      -- The canonical forms (server/ledger/entry-hash.ts, version 2) in one statement; then the chain.
      SELECT array_agg(coalesce((x.e->>'id')::bigint, nextval('journal_entries_id_seq')) ORDER BY x.i),
             array_agg(convert_to('[2,' || concat_ws(',',
               coalesce(to_json(f.id::text)::text, 'null'), coalesce(to_json((f.head_seq + x.i)::text)::text, 'null'),
               coalesce(to_json(to_char((x.e->>'date')::date, 'YYYY-MM-DD'))::text, 'null'),
               coalesce(to_json(x.e->>'kind')::text, 'null'), coalesce(to_json(x.e->>'memo')::text, 'null'), coalesce(to_json(x.e->>'document_no')::text, 'null'),
               coalesce(to_json(x.e->>'department_id')::text, 'null'), coalesce(to_json(x.e->>'reverses_entry_id')::text, 'null'),
               coalesce(to_json(preparer::text)::text, 'null'), coalesce(to_json(approver::text)::text, 'null'), coalesce(to_json(created_iso)::text, 'null'),
               '[' || (SELECT string_agg('[' || coalesce(to_json(y->>'code')::text, 'null') || ',' || coalesce(to_json(y->>'side')::text, 'null') || ','
                                         || coalesce(to_json(((y->>'amount')::numeric(18,2))::text)::text, 'null') || ']', ',' ORDER BY n)
                         FROM jsonb_array_elements(x.e->'postings') WITH ORDINALITY t(y, n)) || ']') || ']', 'UTF8') ORDER BY x.i)
        INTO ids, canonicals
        FROM jsonb_array_elements(p->'entries') WITH ORDINALITY x(e, i);
      prev := f.head_hash;
      FOR k IN 1 .. cardinality(ids) LOOP
        prevs[k] := prev;
        prev := encode(sha256(convert_to(prev, 'UTF8') || canonicals[k]), 'hex');
        hashes[k] := prev;
      END LOOP;

      INSERT INTO journal_entries (id, fund_id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id,
                                   created_by, approved_by, created_at, prev_hash, hash)
        SELECT ids[x.i], f.id, f.head_seq + x.i, (x.e->>'date')::date, x.e->>'kind', x.e->>'memo', x.e->>'document_no',
               (x.e->>'department_id')::bigint, (x.e->>'reverses_entry_id')::bigint, preparer, approver, created, prevs[x.i], hashes[x.i]
          FROM jsonb_array_elements(p->'entries') WITH ORDINALITY x(e, i)
         ORDER BY x.i;
      INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
        SELECT ids[l.i], l.account_id, l.side, l.amount, l.after
          FROM unnest(l_entry, l_account, l_side, l_amount, l_after) WITH ORDINALITY AS l(i, account_id, side, amount, after, o)
         ORDER BY l.o;

      -- As postEntries answers (journal-read.ts EntryView), with the 凭证字号 the trigger has just given.
      SELECT json_agg(json_build_object(
               'id', ids[x.i]::text, 'fund_id', f.id::text, 'seq', f.head_seq + x.i,
               'voucher_year', vn.voucher_year, 'voucher_number', vn.number,
               'voucher_no', '记-' || repeat('0', greatest(0, 4 - length(vn.number::text))) || vn.number::text,
               'date', to_char((x.e->>'date')::date, 'YYYY-MM-DD'), 'kind', x.e->>'kind', 'memo', x.e->>'memo',
               'document_no', x.e->>'document_no', 'department_id', x.e->>'department_id', 'reverses_entry_id', x.e->>'reverses_entry_id',
               'reversed_by_entry_id', NULL, 'status', 'posted', 'created_by', preparer::text, 'created_by_name', NULL,
               'approved_by', approver::text, 'approved_by_name', NULL, 'created_at', created_iso,
               'prev_hash', prevs[x.i], 'hash', hashes[x.i], 'postings', pl.postings) ORDER BY x.i)
        INTO views
        FROM jsonb_array_elements(p->'entries') WITH ORDINALITY x(e, i)
        JOIN voucher_numbers vn ON vn.entry_id = ids[x.i]
        JOIN (SELECT l.i, json_agg(json_build_object('account_code', l.code, 'account_name', l.name, 'book', l.book, 'side', l.side,
                                                     'amount', l.amount::text, 'balance_after', l.after::text) ORDER BY l.o) AS postings
                FROM unnest(l_entry, l_code, l_name, l_book, l_side, l_amount, l_after) WITH ORDINALITY AS l(i, code, name, book, side, amount, after, o)
               GROUP BY l.i) pl ON pl.i = x.i;
      RETURN json_build_object('posted', views);
    END $$;
  `);
  await hardenSchema(knex);
}

export async function down(): Promise<void> {
  throw new Error('the posting-throughput triggers are never rolled back');
}
