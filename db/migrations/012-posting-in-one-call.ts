import type { Knex } from 'knex';

/*
 * Approving prepared entries in one call (issue 14). ledger_approve_prepared(items) posts every
 * prepared entry it is given, each in a subtransaction of its own: one that cannot post (decided
 * already, the preparer approving, a closed period, a missing account, an overdraft, any trigger or
 * CHECK refusing it) is rolled back alone and reported as not posted with a reason; the others post.
 * The service then answers a refused one through its TypeScript path, which re-checks under the lock
 * and carries the domain's explanation. The function writes what that path writes, row for row:
 * the entry and its postings (the ledger triggers still check and apply them), the chain link in the
 * format of server/ledger/entry-hash.ts (version 2, approver included), the pending row's decision,
 * the audit row and the idempotency result.
 *
 * The canonical form is JSON.stringify of an array of strings: to_json(text) escapes exactly as
 * JSON.stringify does (quote, backslash, \b \f \n \r \t, other controls as \u00xx lowercase), and
 * the array is joined without spaces. created_at is kept to the millisecond, as Date.toISOString
 * gives it back to the verifier.
 *
 * SECURITY INVOKER (the default) on purpose: the pool role may already do each of these writes
 * itself, so the functions lend it no right; the ledger triggers they fire run as the owner as
 * before. search_path is pinned here and again by hardenSchema at every start.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION ledger_post_prepared(p jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      approver bigint := (p->>'approver_id')::bigint;
      pe pending_entries%ROWTYPE;
      f record;
      seq bigint;
      created timestamptz := date_trunc('milliseconds', clock_timestamp());
      created_iso text;
      planned jsonb;
      overdrawn boolean;
      codes_wanted integer;
      codes_found integer;
      canonical text;
      entry_hash text;
      posted_view json;
    BEGIN
      SELECT * INTO pe FROM pending_entries WHERE id = (p->>'id')::bigint FOR UPDATE;
      IF NOT FOUND OR pe.status <> 'pending' OR pe.batch_id IS NOT NULL THEN
        RAISE EXCEPTION 'not_pending';
      END IF;
      IF pe.created_by = approver THEN
        RAISE EXCEPTION 'same_accountant';
      END IF;
      IF p->>'idempotency_key' IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES (approver, p->>'idempotency_key', p->>'request_hash')
          ON CONFLICT (user_id, key) DO NOTHING;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'idempotency_key_taken';
        END IF;
      END IF;
      SELECT id, head_seq, head_hash, opening_date, closed_through INTO f FROM funds WHERE id = pe.fund_id FOR UPDATE;
      IF pe.entry_date <= f.closed_through OR pe.entry_date < f.opening_date
         OR pe.entry_date > (now() AT TIME ZONE 'Asia/Shanghai')::date THEN
        RAISE EXCEPTION 'period';
      END IF;
      -- Accounts in id order, as postEntries locks them.
      PERFORM 1 FROM accounts
        WHERE fund_id = pe.fund_id AND code IN (SELECT x->>'account_code' FROM jsonb_array_elements(pe.postings) x)
        ORDER BY id FOR UPDATE;
      SELECT count(DISTINCT x->>'account_code'),
             count(DISTINCT a.id)
        INTO codes_wanted, codes_found
        FROM jsonb_array_elements(pe.postings) x
        LEFT JOIN accounts a ON a.fund_id = pe.fund_id AND a.code = x->>'account_code';
      IF codes_found < codes_wanted THEN
        RAISE EXCEPTION 'account_missing';
      END IF;
      SELECT jsonb_agg(jsonb_build_object('n', n, 'account_id', account_id, 'code', code, 'name', name, 'book', book, 'side', side,
                                          'amount', amount::text, 'after', after::text) ORDER BY n),
             bool_or(guarded AND after < 0)
        INTO planned, overdrawn
        FROM (SELECT w.n, a.id AS account_id, a.code, a.name, a.book, a.guarded, w.side, w.amount,
                     a.balance + sum(CASE WHEN w.side = a.normal_side THEN w.amount ELSE -w.amount END)
                                   OVER (PARTITION BY a.id ORDER BY w.n) AS after
                FROM (SELECT x.n, x.p->>'account_code' AS code, x.p->>'side' AS side, (x.p->>'amount')::numeric(18,2) AS amount
                        FROM jsonb_array_elements(pe.postings) WITH ORDINALITY x(p, n)) w
                JOIN accounts a ON a.fund_id = pe.fund_id AND a.code = w.code) q;
      IF overdrawn THEN
        RAISE EXCEPTION 'insufficient_balance';
      END IF;

      seq := f.head_seq + 1;
      created_iso := to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
      canonical := '[2,' || concat_ws(',',
          coalesce(to_json(pe.fund_id::text)::text, 'null'), coalesce(to_json(seq::text)::text, 'null'), coalesce(to_json(to_char(pe.entry_date, 'YYYY-MM-DD'))::text, 'null'),
          coalesce(to_json(pe.kind)::text, 'null'), coalesce(to_json(pe.memo)::text, 'null'), coalesce(to_json(pe.document_no)::text, 'null'), coalesce(to_json(pe.department_id::text)::text, 'null'),
          coalesce(to_json(pe.reverses_entry_id::text)::text, 'null'), coalesce(to_json(pe.created_by::text)::text, 'null'), coalesce(to_json(approver::text)::text, 'null'),
          coalesce(to_json(created_iso)::text, 'null'),
          '[' || (SELECT string_agg('[' || coalesce(to_json(x->>'code')::text, 'null') || ',' || coalesce(to_json(x->>'side')::text, 'null') || ',' || coalesce(to_json(x->>'amount')::text, 'null') || ']',
                                    ',' ORDER BY (x->>'n')::int)
                    FROM jsonb_array_elements(planned) x) || ']') || ']';
      entry_hash := encode(sha256(convert_to(f.head_hash || canonical, 'UTF8')), 'hex');

      INSERT INTO journal_entries (id, fund_id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id,
                                   created_by, approved_by, created_at, prev_hash, hash)
        VALUES (pe.id, pe.fund_id, seq, pe.entry_date, pe.kind, pe.memo, pe.document_no, pe.department_id, pe.reverses_entry_id,
                pe.created_by, approver, created, f.head_hash, entry_hash);
      INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
        SELECT pe.id, (x->>'account_id')::bigint, x->>'side', (x->>'amount')::numeric, (x->>'after')::numeric
          FROM jsonb_array_elements(planned) x ORDER BY (x->>'n')::int;
      UPDATE pending_entries SET status = 'posted', decided_by = approver, decided_at = now() WHERE id = pe.id;

      -- The posted entry as GET /journal-entries/:id shows it (journal-read.ts entryView), keys in its order.
      posted_view := json_build_object(
        'id', pe.id::text, 'fund_id', pe.fund_id::text, 'seq', seq, 'date', to_char(pe.entry_date, 'YYYY-MM-DD'),
        'kind', pe.kind, 'memo', pe.memo, 'document_no', pe.document_no, 'department_id', pe.department_id::text,
        'reverses_entry_id', pe.reverses_entry_id::text, 'reversed_by_entry_id', NULL, 'status', 'posted',
        'created_by', pe.created_by::text, 'created_by_name', (SELECT username FROM users WHERE id = pe.created_by),
        'approved_by', approver::text, 'approved_by_name', (SELECT username FROM users WHERE id = approver),
        'created_at', created_iso, 'prev_hash', f.head_hash, 'hash', entry_hash,
        'postings', (SELECT json_agg(json_build_object('account_code', x->>'code', 'account_name', x->>'name', 'book', x->>'book',
                                                       'side', x->>'side', 'amount', x->>'amount', 'balance_after', x->>'after')
                                     ORDER BY (x->>'n')::int)
                       FROM jsonb_array_elements(planned) x));
      INSERT INTO audit_log (actor_id, actor_username, actor_role, action, object_type, object_id, request_id, ip, before, after)
        VALUES (approver, p->>'approver_username', p->>'approver_role', 'ledger.' || pe.kind || '_approve', 'journal_entry', pe.id::text,
                p->>'request_id', p->>'ip', '{"status":"pending"}', posted_view::jsonb);
      IF p->>'idempotency_key' IS NOT NULL THEN
        UPDATE idempotency_keys SET status_code = 200, response = posted_view::jsonb WHERE user_id = approver AND key = p->>'idempotency_key';
      END IF;
      RETURN posted_view;
    END $$;

    -- Prepared rows first (by id), then their funds (by id): the order the one-at-a-time path takes
    -- (pending row, then fund), so neither path can deadlock the other. The group is checked entry by
    -- entry in memory (status, four eyes, idempotency key, period, accounts, running balances, chain
    -- link) and what passes is written in one statement per table, so the ledger triggers run once for
    -- the group instead of once per entry. Should the database still refuse that write, the group is
    -- posted again entry by entry, each in a subtransaction (ledger_post_prepared), so the refusal
    -- falls on the one entry it concerns.
    CREATE FUNCTION ledger_approve_prepared(items jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      item jsonb;
      results json[] := '{}';
      outcome json;
      pe pending_entries%ROWTYPE;
      approver bigint;
      heads jsonb := '{}';
      balances jsonb := '{}';
      taken jsonb := '{}';
      head jsonb;
      a record;
      acc jsonb;
      accs jsonb;
      bal numeric;
      planned jsonb;
      problem text;
      seq bigint;
      entry_hash text;
      postings_text text;
      created timestamptz := date_trunc('milliseconds', clock_timestamp());
      created_iso text;
      today date := (now() AT TIME ZONE 'Asia/Shanghai')::date;
      e_ids bigint[] := '{}'; e_seqs bigint[] := '{}'; e_prevs text[] := '{}'; e_hashes text[] := '{}'; e_approvers bigint[] := '{}';
      e_views jsonb[] := '{}'; e_items jsonb[] := '{}';
      p_entries bigint[] := '{}'; p_accounts bigint[] := '{}'; p_sides text[] := '{}'; p_amounts numeric[] := '{}'; p_afters numeric[] := '{}';
      posting jsonb;
      posted_view json;
    BEGIN
      created_iso := to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
      PERFORM 1 FROM pending_entries WHERE id IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(items) x) ORDER BY id FOR UPDATE;
      FOR a IN SELECT id, head_seq, head_hash, opening_date, closed_through FROM funds
                WHERE id IN (SELECT fund_id FROM pending_entries WHERE id IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(items) x))
                ORDER BY id FOR UPDATE LOOP
        heads := heads || jsonb_build_object(a.id::text, jsonb_build_object('seq', a.head_seq, 'hash', a.head_hash,
                                                                           'opening', a.opening_date, 'closed', a.closed_through));
      END LOOP;
      PERFORM 1 FROM accounts
        WHERE (fund_id, code) IN (SELECT pe2.fund_id, x->>'account_code' FROM pending_entries pe2, jsonb_array_elements(pe2.postings) x
                                   WHERE pe2.id IN (SELECT (y->>'id')::bigint FROM jsonb_array_elements(items) y))
        ORDER BY id FOR UPDATE;

      FOR item IN SELECT x FROM jsonb_array_elements(items) x LOOP
        approver := (item->>'approver_id')::bigint;
        problem := NULL;
        SELECT * INTO pe FROM pending_entries WHERE id = (item->>'id')::bigint;
        IF NOT FOUND OR pe.status <> 'pending' OR pe.batch_id IS NOT NULL OR taken->(pe.id::text) IS NOT NULL THEN
          problem := 'not_pending';
        ELSIF pe.created_by = approver THEN
          problem := 'same_accountant';
        ELSIF item->>'idempotency_key' IS NOT NULL
              AND (EXISTS (SELECT 1 FROM idempotency_keys WHERE user_id = approver AND key = item->>'idempotency_key')
                   OR taken->(approver::text || ' ' || (item->>'idempotency_key')) IS NOT NULL) THEN
          problem := 'idempotency_key_taken';
        ELSIF pe.entry_date <= (heads->(pe.fund_id::text)->>'closed')::date OR pe.entry_date < (heads->(pe.fund_id::text)->>'opening')::date OR pe.entry_date > today THEN
          problem := 'period';
        END IF;
        IF problem IS NULL THEN
          -- The entry's accounts, with the balances left by the entries before it in this group.
          accs := '[]';
          FOR a IN SELECT x.n, x.p->>'account_code' AS code, x.p->>'side' AS side, (x.p->>'amount')::numeric(18,2) AS amount,
                          ac.id, ac.name, ac.book, ac.normal_side, ac.guarded, ac.balance
                     FROM jsonb_array_elements(pe.postings) WITH ORDINALITY x(p, n)
                     LEFT JOIN accounts ac ON ac.fund_id = pe.fund_id AND ac.code = x.p->>'account_code'
                    ORDER BY x.n LOOP
            IF a.id IS NULL THEN
              problem := 'account_missing';
              EXIT;
            END IF;
            bal := coalesce((balances->>(a.id::text))::numeric, a.balance)
                   + CASE WHEN a.side = a.normal_side THEN a.amount ELSE -a.amount END;
            IF a.guarded AND bal < 0 THEN
              problem := 'insufficient_balance';
              EXIT;
            END IF;
            balances := balances || jsonb_build_object(a.id::text, bal);
            accs := accs || jsonb_build_object('account_id', a.id, 'code', a.code, 'name', a.name, 'book', a.book, 'side', a.side,
                                               'amount', a.amount::text, 'after', bal::text);
          END LOOP;
        END IF;
        IF problem IS NOT NULL THEN
          -- Undo this entry's effect on the running balances: recompute them from what was accepted.
          IF accs IS NOT NULL AND jsonb_array_length(accs) > 0 THEN
            balances := '{}';
            FOR posting IN SELECT jsonb_build_object('a', u.account_id, 'after', u.after) FROM unnest(p_accounts, p_afters) u(account_id, after) LOOP
              balances := balances || jsonb_build_object(posting->>'a', (posting->>'after')::numeric);
            END LOOP;
          END IF;
          results := results || json_build_object('posted', false, 'reason', problem);
          accs := NULL;
          CONTINUE;
        END IF;

        head := heads->(pe.fund_id::text);
        seq := (head->>'seq')::bigint + 1;
        SELECT string_agg('[' || coalesce(to_json(x->>'code')::text, 'null') || ',' || coalesce(to_json(x->>'side')::text, 'null') || ',' || coalesce(to_json(x->>'amount')::text, 'null') || ']', ',' ORDER BY n)
          INTO postings_text FROM jsonb_array_elements(accs) WITH ORDINALITY t(x, n);
        entry_hash := encode(sha256(convert_to(head->>'hash' || '[2,' || concat_ws(',',
            coalesce(to_json(pe.fund_id::text)::text, 'null'), coalesce(to_json(seq::text)::text, 'null'), coalesce(to_json(to_char(pe.entry_date, 'YYYY-MM-DD'))::text, 'null'),
            coalesce(to_json(pe.kind)::text, 'null'), coalesce(to_json(pe.memo)::text, 'null'), coalesce(to_json(pe.document_no)::text, 'null'), coalesce(to_json(pe.department_id::text)::text, 'null'),
            coalesce(to_json(pe.reverses_entry_id::text)::text, 'null'), coalesce(to_json(pe.created_by::text)::text, 'null'), coalesce(to_json(approver::text)::text, 'null'),
            coalesce(to_json(created_iso)::text, 'null'), '[' || postings_text || ']') || ']', 'UTF8')), 'hex');
        posted_view := json_build_object(
          'id', pe.id::text, 'fund_id', pe.fund_id::text, 'seq', seq, 'date', to_char(pe.entry_date, 'YYYY-MM-DD'),
          'kind', pe.kind, 'memo', pe.memo, 'document_no', pe.document_no, 'department_id', pe.department_id::text,
          'reverses_entry_id', pe.reverses_entry_id::text, 'reversed_by_entry_id', NULL, 'status', 'posted',
          'created_by', pe.created_by::text, 'created_by_name', (SELECT username FROM users WHERE id = pe.created_by),
          'approved_by', approver::text, 'approved_by_name', (SELECT username FROM users WHERE id = approver),
          'created_at', created_iso, 'prev_hash', head->>'hash', 'hash', entry_hash,
          'postings', (SELECT json_agg(json_build_object('account_code', x->>'code', 'account_name', x->>'name', 'book', x->>'book',
                                                         'side', x->>'side', 'amount', x->>'amount', 'balance_after', x->>'after') ORDER BY n)
                         FROM jsonb_array_elements(accs) WITH ORDINALITY t(x, n)));
        heads := jsonb_set(heads, ARRAY[pe.fund_id::text], head || jsonb_build_object('seq', seq, 'hash', entry_hash));
        taken := taken || jsonb_build_object(pe.id::text, true);
        IF item->>'idempotency_key' IS NOT NULL THEN
          taken := taken || jsonb_build_object(approver::text || ' ' || (item->>'idempotency_key'), true);
        END IF;
        e_ids := e_ids || pe.id; e_seqs := e_seqs || seq; e_prevs := e_prevs || (head->>'hash'); e_hashes := e_hashes || entry_hash;
        e_approvers := e_approvers || approver; e_views := e_views || posted_view::jsonb; e_items := e_items || item;
        FOR posting IN SELECT x FROM jsonb_array_elements(accs) x LOOP
          p_entries := p_entries || pe.id; p_accounts := p_accounts || (posting->>'account_id')::bigint; p_sides := p_sides || (posting->>'side');
          p_amounts := p_amounts || (posting->>'amount')::numeric; p_afters := p_afters || (posting->>'after')::numeric;
        END LOOP;
        results := results || json_build_object('posted', true, 'entry', posted_view);
        accs := NULL;
      END LOOP;

      IF cardinality(e_ids) = 0 THEN
        RETURN array_to_json(results);
      END IF;
      BEGIN
        INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response)
          SELECT (i->>'approver_id')::bigint, i->>'idempotency_key', i->>'request_hash', 200, v
            FROM unnest(e_items, e_views) AS c(i, v) WHERE i->>'idempotency_key' IS NOT NULL;
        INSERT INTO journal_entries (id, fund_id, seq, entry_date, kind, memo, document_no, department_id, reverses_entry_id,
                                     created_by, approved_by, created_at, prev_hash, hash)
          SELECT q.id, q.fund_id, c.seq, q.entry_date, q.kind, q.memo, q.document_no, q.department_id, q.reverses_entry_id,
                 q.created_by, c.approver, created, c.prev_hash, c.hash
            FROM unnest(e_ids, e_seqs, e_prevs, e_hashes, e_approvers) AS c(id, seq, prev_hash, hash, approver)
            JOIN pending_entries q ON q.id = c.id
           ORDER BY q.fund_id, c.seq;
        INSERT INTO postings (entry_id, account_id, side, amount, balance_after)
          SELECT c.entry_id, c.account_id, c.side, c.amount, c.after
            FROM unnest(p_entries, p_accounts, p_sides, p_amounts, p_afters) WITH ORDINALITY AS c(entry_id, account_id, side, amount, after, n)
           ORDER BY c.n;
        UPDATE pending_entries q SET status = 'posted', decided_by = c.approver, decided_at = now()
          FROM unnest(e_ids, e_approvers) AS c(id, approver) WHERE q.id = c.id;
        INSERT INTO audit_log (actor_id, actor_username, actor_role, action, object_type, object_id, request_id, ip, before, after)
          SELECT (i->>'approver_id')::bigint, i->>'approver_username', i->>'approver_role', 'ledger.' || (v->>'kind') || '_approve',
                 'journal_entry', v->>'id', i->>'request_id', i->>'ip', '{"status":"pending"}', v
            FROM unnest(e_items, e_views) AS c(i, v);
      EXCEPTION WHEN OTHERS THEN
        -- Refused as a group: post entry by entry, so the refusal falls on its own entry.
        results := '{}';
        FOR item IN SELECT x FROM jsonb_array_elements(items) x LOOP
          BEGIN
            outcome := json_build_object('posted', true, 'entry', ledger_post_prepared(item));
          EXCEPTION WHEN OTHERS THEN
            outcome := json_build_object('posted', false, 'reason', SQLERRM, 'sqlstate', SQLSTATE);
          END;
          results := results || outcome;
        END LOOP;
      END;
      RETURN array_to_json(results);
    END $$;

    -- A prepared batch approved as one: every entry posts or none does. Set-based but for the chain
    -- link, which is sequential by nature; the payload never leaves the database. Any refusal raises
    -- (nothing is written) and the service answers through approveBatch, which explains it.
    CREATE FUNCTION ledger_approve_batch(p jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      approver bigint := (p->>'approver_id')::bigint;
      b journal_entry_batches%ROWTYPE;
      f record;
      created timestamptz := date_trunc('milliseconds', clock_timestamp());
      created_iso text;
      overdrawn boolean;
      missing boolean;
      e record;
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
      prev := f.head_hash;
      seq := f.head_seq;
      FOR e IN
        SELECT pe.*,
               (SELECT string_agg('[' || coalesce(to_json(x->>'account_code')::text, 'null') || ',' || coalesce(to_json(x->>'side')::text, 'null') || ','
                                  || coalesce(to_json(((x->>'amount')::numeric(18,2))::text)::text, 'null') || ']', ',' ORDER BY n)
                  FROM jsonb_array_elements(pe.postings) WITH ORDINALITY t(x, n)) AS postings_text
          FROM pending_entries pe WHERE pe.batch_id = b.id ORDER BY pe.position
      LOOP
        seq := seq + 1;
        ids := ids || e.id;
        seqs := seqs || seq;
        prevs := prevs || prev;
        prev := encode(sha256(convert_to(prev || '[2,' || concat_ws(',',
            coalesce(to_json(e.fund_id::text)::text, 'null'), coalesce(to_json(seq::text)::text, 'null'), coalesce(to_json(to_char(e.entry_date, 'YYYY-MM-DD'))::text, 'null'),
            coalesce(to_json(e.kind)::text, 'null'), coalesce(to_json(e.memo)::text, 'null'), coalesce(to_json(e.document_no)::text, 'null'), coalesce(to_json(e.department_id::text)::text, 'null'),
            coalesce(to_json(e.reverses_entry_id::text)::text, 'null'), coalesce(to_json(b.created_by::text)::text, 'null'), coalesce(to_json(approver::text)::text, 'null'),
            coalesce(to_json(created_iso)::text, 'null'), '[' || e.postings_text || ']') || ']', 'UTF8')), 'hex');
        hashes := hashes || prev;
      END LOOP;

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
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION ledger_approve_batch(jsonb);
    DROP FUNCTION ledger_approve_prepared(jsonb);
    DROP FUNCTION ledger_post_prepared(jsonb);
  `);
}
