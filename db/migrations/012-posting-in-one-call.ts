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
    CREATE FUNCTION ledger_json_text(v text) RETURNS text LANGUAGE sql IMMUTABLE
      SET search_path = pg_catalog, public, pg_temp
      RETURN coalesce(to_json(v)::text, 'null');

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
          ledger_json_text(pe.fund_id::text), ledger_json_text(seq::text), ledger_json_text(to_char(pe.entry_date, 'YYYY-MM-DD')),
          ledger_json_text(pe.kind), ledger_json_text(pe.memo), ledger_json_text(pe.document_no), ledger_json_text(pe.department_id::text),
          ledger_json_text(pe.reverses_entry_id::text), ledger_json_text(pe.created_by::text), ledger_json_text(approver::text),
          ledger_json_text(created_iso),
          '[' || (SELECT string_agg('[' || ledger_json_text(x->>'code') || ',' || ledger_json_text(x->>'side') || ',' || ledger_json_text(x->>'amount') || ']',
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
    -- (pending row, then fund), so neither path can deadlock the other.
    CREATE FUNCTION ledger_approve_prepared(items jsonb) RETURNS json LANGUAGE plpgsql
      SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE
      item jsonb;
      results json[] := '{}';
    BEGIN
      PERFORM 1 FROM pending_entries WHERE id IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(items) x) ORDER BY id FOR UPDATE;
      PERFORM 1 FROM funds
        WHERE id IN (SELECT fund_id FROM pending_entries WHERE id IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements(items) x))
        ORDER BY id FOR UPDATE;
      FOR item IN SELECT x FROM jsonb_array_elements(items) x LOOP
        BEGIN
          results := results || json_build_object('posted', true, 'entry', ledger_post_prepared(item));
        EXCEPTION WHEN OTHERS THEN
          results := results || json_build_object('posted', false, 'reason', SQLERRM, 'sqlstate', SQLSTATE);
        END;
      END LOOP;
      RETURN array_to_json(results);
    END $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION ledger_approve_prepared(jsonb);
    DROP FUNCTION ledger_post_prepared(jsonb);
    DROP FUNCTION ledger_json_text(text);
  `);
}
