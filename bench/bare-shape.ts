import { execFile } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import pg from 'pg';
import { checkpoint, load } from './support.ts';

/*
 * The physical limit of a posting on a hot fund (issue 14): two balance updates and an entry with
 * two postings in one transaction, nothing else — no chain, no audit, no idempotency, no checks but
 * the overdraft guard. Run in scratch tables of their own (schema bare) on the bench's database.
 */
const bare_sql = `BEGIN;
UPDATE bare.accounts SET balance = balance - 1.00 WHERE id = 1 AND balance >= 1.00;
UPDATE bare.accounts SET balance = balance + 1.00 WHERE id = 2;
WITH e AS (INSERT INTO bare.entries(memo) VALUES ('raw') RETURNING id)
INSERT INTO bare.postings(entry_id, account_id, amount) SELECT e.id, a, m FROM e, (VALUES (1::bigint, -1.00), (2::bigint, 1.00)) v(a, m);
END;
`;

export const pgbench_path = '/usr/lib/postgresql/15/bin/pgbench';

async function resetBareTables(db: Knex): Promise<void> {
  await db.raw(`
    DROP SCHEMA IF EXISTS bare CASCADE;
    CREATE SCHEMA bare;
    CREATE TABLE bare.accounts (id bigint PRIMARY KEY, balance numeric(18,2));
    CREATE TABLE bare.entries (id bigserial PRIMARY KEY, memo text, created_at timestamptz DEFAULT now());
    CREATE TABLE bare.postings (id bigserial PRIMARY KEY, entry_id bigint REFERENCES bare.entries, account_id bigint REFERENCES bare.accounts, amount numeric(18,2));
    INSERT INTO bare.accounts VALUES (1, 1000000000.00), (2, 0);
  `);
}

export interface BareFigures {
  tool: string;
  per_s: number;
  failed: number;
  entries: number;
}

/** pgbench -c clients -j 2 -T seconds -f bare.sql; entries/s is its tps without connection time. */
async function throughPgbench(databaseUrl: string, clients: number, seconds: number): Promise<BareFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'jiangbu-bare-'));
  try {
    const script = join(dir, 'bare.sql');
    await writeFile(script, bare_sql);
    const { stdout } = await promisify(execFile)(pgbench_path, ['-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-f', script, databaseUrl]);
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    const done = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN);
    return { tool: `pgbench -c ${clients} -j 2 -T ${seconds}`, per_s: tps, failed, entries: done };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same statements from Node over `clients` connections, where pgbench is not installed. */
async function throughNode(databaseUrl: string, clients: number, seconds: number): Promise<BareFigures> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: clients });
  pool.on('error', () => undefined);
  const statements = bare_sql.split(';\n').filter((s) => s.trim());
  const deadline = performance.now() + seconds * 1000;
  let entries = 0;
  const started = performance.now();
  await load(clients, clients, async () => {
    const c = await pool.connect();
    try {
      while (performance.now() < deadline) {
        for (const s of statements) await c.query(s);
        entries++;
      }
    } finally {
      c.release();
    }
  });
  await pool.end();
  return { tool: `node pg, ${clients} connections, ${seconds} s`, per_s: entries / ((performance.now() - started) / 1000), failed: 0, entries };
}

export async function bareShape(db: Knex, databaseUrl: string, clients: number, seconds = 8): Promise<BareFigures> {
  await resetBareTables(db);
  await checkpoint(db);
  const hasPgbench = await access(pgbench_path).then(
    () => true,
    () => false,
  );
  return hasPgbench ? throughPgbench(databaseUrl, clients, seconds) : throughNode(databaseUrl, clients, seconds);
}

/**
 * The batch path's physical limit: the bare shape with 1,000 entries in one transaction (both balance
 * updates by the batch's total, then 1,000 entries and their 2,000 postings in one statement), ten
 * transactions one after another on one connection, as the bench approves its ten batches.
 */
export async function bareBatch(db: Knex, databaseUrl: string, batches = 10, size = 1000): Promise<BareFigures> {
  await resetBareTables(db);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const total = (size / 100).toFixed(2);
    const one = `BEGIN;
UPDATE bare.accounts SET balance = balance - ${total} WHERE id = 1 AND balance >= ${total};
UPDATE bare.accounts SET balance = balance + ${total} WHERE id = 2;
WITH e AS (INSERT INTO bare.entries(memo) SELECT 'raw' FROM generate_series(1, ${size}) RETURNING id)
INSERT INTO bare.postings(entry_id, account_id, amount) SELECT e.id, a, m FROM e, (VALUES (1::bigint, -0.01), (2::bigint, 0.01)) v(a, m);
COMMIT;`;
    await client.query(one); // warm-up, not timed
    await checkpoint(db);
    const started = performance.now();
    for (let i = 0; i < batches; i++) await client.query(one);
    const per_s = (batches * size) / ((performance.now() - started) / 1000);
    return { tool: `node pg, one connection, ${batches} transactions of ${size}`, per_s, failed: 0, entries: batches * size };
  } finally {
    await client.end();
  }
}
