import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { ensurePoolRole, poolLoginProblem } from '../../db/roles.ts';
import { makeFund, makeUser, openHarness, openOwner, type Harness } from '../support/harness.ts';

/*
 * The request pool's own login (as the service and the API tests use it) tries every way around the
 * ledger's guards that a superuser login had: each one is refused, and the books are unchanged.
 */
let h: Harness;
let pool: Knex;
let fundId: string;
beforeAll(async () => {
  h = openHarness();
  pool = createKnex(inject('databaseUrl'), 1, 60_000);
  fundId = await makeFund(h, await makeUser(h.db, 'accountant'), '825.00');
});
afterAll(async () => {
  await pool.destroy();
  await h.close();
});

async function refusal(sql: string): Promise<string> {
  try {
    await pool.transaction(async (trx) => {
      await trx.raw(sql);
    });
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  }
  return 'accepted';
}

describe('the pool role', () => {
  it('is not a superuser, owns nothing, and names itself jiangbu', async () => {
    const { rows } = await pool.raw(`SELECT r.rolsuper, r.rolcreaterole, r.rolbypassrls, current_setting('application_name') AS app,
      (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned FROM pg_roles r WHERE r.rolname = current_user`);
    expect(rows[0]).toEqual({ rolsuper: false, rolcreaterole: false, rolbypassrls: false, app: 'jiangbu', owned: 0 });
  });

  it.each([
    ['SET session_replication_role = replica', '42501'],
    ['ALTER TABLE postings DISABLE TRIGGER ALL', '42501'],
    ['ALTER TABLE funds DISABLE TRIGGER funds_derived', '42501'],
    ['UPDATE postings SET balance_after = balance_after + 1', '42501'],
    ['UPDATE postings SET amount = amount + 1', '42501'],
    ['DELETE FROM postings', '42501'],
    ['UPDATE journal_entries SET memo = memo', '42501'],
    ['DELETE FROM journal_entries', '42501'],
    ['TRUNCATE postings', '42501'],
    ['TRUNCATE journal_entries CASCADE', '42501'],
    ['TRUNCATE funds CASCADE', '42501'],
    ['UPDATE audit_log SET action = action', '42501'],
    ['DELETE FROM audit_log', '42501'],
    ['DELETE FROM statements', '42501'],
    ['DELETE FROM ledger_anchors', '42501'],
    ['DROP TABLE postings', '42501'],
    ['DROP TRIGGER postings_append_only ON postings', '42501'],
    ['CREATE TABLE public.mine (x int)', '42501'],
    ['ALTER ROLE CURRENT_USER SUPERUSER', '42501'],
    ['SELECT * FROM knex_migrations', '42501'],
    // Derived columns: the pool has no privilege on them (the ledger triggers write them as the owner),
    // and their own guard refuses every writer but the owner besides.
    ['UPDATE funds SET appropriated = appropriated + 5000', '42501'],
    ['UPDATE funds SET head_seq = head_seq - 1', '42501'],
    ['UPDATE accounts SET balance = balance + 1', '42501'],
    ['UPDATE accounts SET posting_count = posting_count + 1', '42501'],
    ['UPDATE funds SET name = name', '23000'],
    [
      "INSERT INTO funds (code, name, fiscal_year, document_no, appropriated, created_by) SELECT 'X9', 'x', 2011, 'd', 5000, created_by FROM funds LIMIT 1",
      '42501',
    ],
    // A TEMP table whose trigger writes the derived columns (at trigger depth 2), or shadows a ledger table.
    [
      `CREATE TEMP TABLE trig(x int); CREATE FUNCTION pg_temp.bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE public.funds SET appropriated = appropriated + 5000 WHERE true; RETURN NULL; END $$; CREATE TRIGGER t AFTER INSERT ON pg_temp.trig FOR EACH ROW EXECUTE FUNCTION pg_temp.bump(); INSERT INTO pg_temp.trig VALUES (1)`,
      '42501',
    ],
    ['CREATE TEMP TABLE accounts (id bigint)', '42501'],
    // The ledger triggers run as the owner: they cannot be hung on a table the pool chooses.
    ['CREATE TRIGGER borrowed AFTER INSERT ON sessions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION postings_apply()', '42501'],
    ["INSERT INTO pool_credentials (role, password) VALUES (current_user, repeat('x', 20))", '42501'],
    ['CREATE SCHEMA mine', '42501'],
  ])('%s → refused (%s)', async (sql, code) => {
    const before = await h.db('funds').where({ id: fundId }).first('appropriated', 'head_seq', 'head_hash');
    expect(await refusal(sql)).toBe(code);
    expect(await h.db('funds').where({ id: fundId }).first('appropriated', 'head_seq', 'head_hash')).toEqual(before);
  });

  it('even with TEMP granted, a TEMP trigger cannot write a derived column, nor a TEMP table shadow one in the ledger triggers', async () => {
    const database = new URL(inject('databaseUrl')).pathname.slice(1);
    const role = (await pool.raw('SELECT current_user AS u')).rows[0].u as string;
    const owner = openOwner();
    await owner.raw(`GRANT TEMPORARY ON DATABASE ${database} TO ${role}`);
    try {
      const before = await h.db('funds').where({ id: fundId }).first('appropriated', 'head_seq', 'head_hash');
      expect(
        await refusal(
          `CREATE TEMP TABLE trig(x int); CREATE FUNCTION pg_temp.bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE public.funds SET appropriated = appropriated + 5000 WHERE id = ${fundId}; RETURN NULL; END $$; CREATE TRIGGER t AFTER INSERT ON pg_temp.trig FOR EACH ROW EXECUTE FUNCTION pg_temp.bump(); INSERT INTO pg_temp.trig VALUES (1)`,
        ),
      ).toBe('42501');
      expect(await h.db('funds').where({ id: fundId }).first('appropriated', 'head_seq', 'head_hash')).toEqual(before);
    } finally {
      await owner.raw(`REVOKE TEMPORARY ON DATABASE ${database} FROM ${role}`);
      await owner.destroy();
    }
  });

  it('the start-up check passes the pool login, and refuses it with TEMP on the database or as a member of the owner', async () => {
    expect(await poolLoginProblem(pool)).toBeNull();
    const database = new URL(inject('databaseUrl')).pathname.slice(1);
    const role = (await pool.raw('SELECT current_user AS u')).rows[0].u as string;
    const owner = openOwner();
    const ownerRole = (await owner.raw('SELECT current_user AS u')).rows[0].u as string;
    try {
      await owner.raw(`GRANT TEMPORARY ON DATABASE ${database} TO ${role}`);
      expect(await poolLoginProblem(pool)).toMatch(/TEMP tables/);
      await owner.raw(`REVOKE TEMPORARY ON DATABASE ${database} FROM ${role}`);
      await owner.raw(`GRANT ${ownerRole} TO ${role}`);
      expect(await poolLoginProblem(pool)).toMatch(new RegExp(`member of ${ownerRole}`));
    } finally {
      await owner.raw(`REVOKE TEMPORARY ON DATABASE ${database} FROM ${role}`);
      await owner.raw(`REVOKE ${ownerRole} FROM ${role}`);
      await owner.destroy();
    }
    expect(await poolLoginProblem(pool)).toBeNull();
  });

  it("a second service on the same database (another DATA_DIR, another generated password) keeps the role's password", async () => {
    const owner = openOwner();
    try {
      const role = (await pool.raw('SELECT current_user AS u')).rows[0].u as string;
      const url = await ensurePoolRole(owner, inject('ownerDatabaseUrl'), role, 'a-new-password-of-another-data-dir');
      expect(new URL(url).password).toBe(new URL(inject('databaseUrl')).password);
      const again = createKnex(inject('databaseUrl'), 1, 60_000);
      try {
        expect((await again.raw('SELECT 1 AS one')).rows[0].one).toBe(1);
      } finally {
        await again.destroy();
      }
    } finally {
      await owner.destroy();
    }
  });

  it('every function of the schema pins its search_path, with pg_temp last', async () => {
    const { rows } = await pool.raw(`SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.prokind = 'f'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`);
    expect(rows.length).toBeGreaterThan(5);
    for (const r of rows as Array<{ proname: string; proconfig: string[] }>) {
      expect([r.proname, r.proconfig.filter((c) => c.startsWith('search_path='))]).toEqual([r.proname, ['search_path=pg_catalog, public, pg_temp']]);
      // Beyond it a function may only say how its statements are planned (migration 025), nothing else.
      expect([r.proname, r.proconfig.filter((c) => !c.startsWith('search_path=') && !/^(plan_cache_mode|jit)=/.test(c))]).toEqual([r.proname, []]);
    }
  });

  it('has no UPDATE, DELETE or TRUNCATE on any table the schema declares append-only, whichever migration added it', async () => {
    const { rows } = await pool.raw(`SELECT c.relname,
        has_table_privilege(current_user, c.oid, 'UPDATE') AS can_update,
        has_table_privilege(current_user, c.oid, 'DELETE') AS can_delete,
        has_table_privilege(current_user, c.oid, 'TRUNCATE') AS can_truncate
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
     WHERE p.proname = 'refuse_change' AND (t.tgtype & 16) <> 0 GROUP BY c.oid, c.relname ORDER BY c.relname`);
    expect(rows.length).toBeGreaterThanOrEqual(8);
    expect(rows.filter((r: { can_update: boolean; can_delete: boolean; can_truncate: boolean }) => r.can_update || r.can_delete || r.can_truncate)).toEqual([]);
    const { rows: deletable } = await pool.raw(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND has_table_privilege(current_user, c.oid, 'DELETE') ORDER BY c.relname`);
    expect(deletable.map((r: { relname: string }) => r.relname)).toEqual(['idempotency_keys', 'login_throttle', 'sessions']);
  });

  it('may write no derived column: none of funds and accounts, nothing of any other table the schema declares derived', async () => {
    const { rows } = await pool.raw(`SELECT c.relname, a.attname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE n.nspname = 'public'
         AND EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgrelid = c.oid AND p.proname = 'refuse_direct_update')
         AND (has_column_privilege(current_user, c.oid, a.attnum, 'INSERT') OR has_column_privilege(current_user, c.oid, a.attnum, 'UPDATE'))
       ORDER BY 1, 2`);
    const writable = rows.map((r: { relname: string; attname: string }) => `${r.relname}.${r.attname}`);
    for (const column of [
      'funds.head_seq',
      'funds.head_hash',
      'funds.appropriated',
      'funds.allocated',
      'funds.disbursed',
      'accounts.balance',
      'accounts.posting_count',
    ])
      expect(writable).not.toContain(column);
    expect(writable.filter((c: string) => !c.startsWith('funds.') && !c.startsWith('accounts.'))).toEqual([]);
  });

  it('verify still finds the books whole after every attempt', async () => {
    const res = await h.api.get(`/api/v1/funds/${fundId}/ledger/verify`).set((await makeUser(h.db, 'auditor')).auth);
    expect(res.body.ok).toBe(true);
  });
});
