import pg from 'pg';
import { entryHash } from '../server/ledger/entry-hash.ts';
import { benchUser, fmt, load, rssOf, type BenchEnv } from './support.ts';

async function post(env: BenchEnv, path: string, headers: Record<string, string>, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${env.baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function newFund(env: BenchEnv, headers: Record<string, string>, code: string) {
  const fund = await post(env, '/api/v1/funds', headers, { code, name: 'bench', fiscal_year: 2011, document_no: 'bench' });
  await post(env, `/api/v1/funds/${fund.id}/appropriations`, headers, { amount: '9000000000000.00', document_no: 'bench', date: '2011-06-01' });
  return String(fund.id);
}

const oneFen = (memo: string) => ({
  date: '2011-07-01',
  memo,
  postings: [
    { account_code: '1011', side: 'debit', amount: '0.01' },
    { account_code: '4001', side: 'credit', amount: '0.01' },
  ],
});

/**
 * The same transaction as the service's posting path, in plain SQL over pg with no HTTP, auth,
 * validation, audit or idempotency: what this machine's PostgreSQL can do at best.
 */
async function rawSqlPosting(databaseUrl: string, fundId: string, userId: string, total: number, concurrency: number) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  const result = await load(total, concurrency, async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const f = (await c.query('SELECT head_seq, head_hash FROM funds WHERE id = $1 FOR UPDATE', [fundId])).rows[0];
      const accounts = (await c.query("SELECT id, code, balance FROM accounts WHERE fund_id = $1 AND code IN ('1011','4001') ORDER BY id FOR UPDATE", [fundId])).rows;
      const seq = String(BigInt(f.head_seq) + 1n);
      const createdAt = new Date();
      const hash = entryHash(f.head_hash, { fundId, seq, date: '2011-07-01', kind: 'manual', memo: 'raw', documentNo: null, departmentId: null, reversesEntryId: null, createdBy: userId, createdAt: createdAt.toISOString(), postings: [{ accountCode: '1011', side: 'debit', amount: '0.01' }, { accountCode: '4001', side: 'credit', amount: '0.01' }] });
      const e = (await c.query("INSERT INTO journal_entries (fund_id, seq, entry_date, kind, memo, created_by, created_at, prev_hash, hash) VALUES ($1,$2,'2011-07-01','manual','raw',$3,$4,$5,$6) RETURNING id", [fundId, seq, userId, createdAt, f.head_hash, hash])).rows[0];
      const byCode = Object.fromEntries(accounts.map((a) => [a.code, a]));
      const after = (code: string) => (BigInt(Math.round(Number(byCode[code].balance) * 100)) + 1n).toString().replace(/(\d{2})$/, '.$1');
      await c.query("INSERT INTO postings (entry_id, account_id, side, amount, balance_after) VALUES ($1,$2,'debit',0.01,$3),($1,$4,'credit',0.01,$5)", [e.id, byCode['1011'].id, after('1011'), byCode['4001'].id, after('4001')]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK');
      throw err;
    } finally {
      c.release();
    }
  });
  await pool.end();
  return result;
}

export async function benchLedger(env: BenchEnv): Promise<void> {
  const accountant = await benchUser(env.db, 'accountant', 'bench_accountant');
  const h = accountant.headers;
  console.log('\n## Ledger (issue 3)');

  const single1 = await newFund(env, h, 'BENCH-C1');
  await load(50, 1, (i) => post(env, `/api/v1/funds/${single1}/journal-entries`, h, oneFen(`warm ${i}`)).then(() => undefined));
  const c1 = await load(500, 1, (i) => post(env, `/api/v1/funds/${single1}/journal-entries`, h, oneFen(`c1 ${i}`)).then(() => undefined));
  const single16 = await newFund(env, h, 'BENCH-C16');
  const c16 = await load(3000, 16, (i) => post(env, `/api/v1/funds/${single16}/journal-entries`, h, oneFen(`c16 ${i}`)).then(() => undefined));
  const rawFund = await newFund(env, h, 'BENCH-RAW');
  const raw16 = await rawSqlPosting(env.databaseUrl, rawFund, accountant.id, 3000, 16);
  const raw1 = await rawSqlPosting(env.databaseUrl, rawFund, accountant.id, 500, 1);
  console.log(`single entry over HTTP, c=1 : ${fmt(c1.per_s, 0)} entries/s, p50 ${fmt(c1.p50_ms, 2)} ms, p99 ${fmt(c1.p99_ms, 2)} ms`);
  console.log(`single entry over HTTP, c=16: ${fmt(c16.per_s, 0)} entries/s, p50 ${fmt(c16.p50_ms, 2)} ms, p99 ${fmt(c16.p99_ms, 2)} ms`);
  console.log(`same transaction in raw SQL, c=1 : ${fmt(raw1.per_s, 0)} entries/s, p50 ${fmt(raw1.p50_ms, 2)} ms`);
  console.log(`same transaction in raw SQL, c=16: ${fmt(raw16.per_s, 0)} entries/s, p50 ${fmt(raw16.p50_ms, 2)} ms, p99 ${fmt(raw16.p99_ms, 2)} ms`);
  console.log(`HTTP / raw SQL at c=16: ${fmt(c16.per_s / raw16.per_s, 2)} (target ≥ 0.5)`);
  const afterSingles = await rssOf(env.server.pid!);

  const batchFund = await newFund(env, h, 'BENCH-BATCH');
  const batch = Array.from({ length: 1000 }, (_, i) => oneFen(`batch ${i}`));
  const batches = await load(10, 1, () => post(env, `/api/v1/funds/${batchFund}/journal-entries/batch`, h, { entries: batch }).then(() => undefined));
  console.log(`batch endpoint, 10 × 1,000 entries: ${fmt(batches.per_s * 1000, 0)} entries/s, p50 ${fmt(batches.p50_ms, 0)} ms per batch (target ≥ 10,000)`);

  const readFund = await newFund(env, h, 'BENCH-READ');
  const readBalance = async () => {
    const res = await fetch(`${env.baseUrl}/api/v1/funds/${readFund}`, { headers: h });
    await res.json();
  };
  // 99 postings on 1011 per entry, so 1,000,000 postings need ~10,100 entries.
  const wide = (n: number) => ({
    date: '2011-07-01',
    memo: 'seed',
    postings: [...Array.from({ length: n }, () => ({ account_code: '1011', side: 'debit', amount: '0.01' })), { account_code: '4001', side: 'credit', amount: (n / 100).toFixed(2) }],
  });
  await post(env, `/api/v1/funds/${readFund}/journal-entries/batch`, h, { entries: Array.from({ length: 10 }, () => wide(99)).concat([wide(9)]) });
  const small = await load(2000, 1, readBalance);
  const count1k = (await env.db('accounts').where({ fund_id: readFund, code: '1011' }).first('posting_count')).posting_count;
  const seedStart = performance.now();
  // 150 entries of 100 postings keep each request under the 1 MiB body limit.
  for (let seeded = Number(count1k); seeded < 1_000_000; seeded += 99 * 150) {
    await post(env, `/api/v1/funds/${readFund}/journal-entries/batch`, h, { entries: Array.from({ length: 150 }, () => wide(99)) });
  }
  const seed_s = (performance.now() - seedStart) / 1000;
  const afterSeeding = await rssOf(env.server.pid!);
  const count1m = (await env.db('accounts').where({ fund_id: readFund, code: '1011' }).first('posting_count')).posting_count;
  const large = await load(2000, 1, readBalance);
  console.log(`balance read with ${count1k} postings on 1011: p50 ${fmt(small.p50_ms, 2)} ms, p99 ${fmt(small.p99_ms, 2)} ms`);
  console.log(`balance read with ${count1m} postings on 1011: p50 ${fmt(large.p50_ms, 2)} ms, p99 ${fmt(large.p99_ms, 2)} ms (seeded in ${fmt(seed_s, 0)} s through the batch endpoint); ratio ${fmt(large.p50_ms / small.p50_ms, 2)} (target < 5 ms, ≤ 1.5×)`);
  const mem = await rssOf(env.server.pid!);
  console.log(`server RSS now ${fmt(mem.rss_mib, 0)} MiB, peak ${fmt(mem.peak_mib, 0)} MiB (target < 300 MiB); peak after the single-entry runs ${fmt(afterSingles.peak_mib, 0)} MiB, after seeding 1M postings ${fmt(afterSeeding.peak_mib, 0)} MiB`);
}
