import pg from 'pg';
import { entryHash } from '../server/ledger/entry-hash.ts';
import { benchUser, fmt, load, rssOf, type BenchEnv } from './support.ts';

async function post(env: BenchEnv, path: string, headers: Record<string, string>, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${env.baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201 && res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const bench_department = 'BENCHD';

async function newFund(env: BenchEnv, maker: Record<string, string>, checker: Record<string, string>, code: string) {
  const fund = await post(env, '/api/v1/funds', maker, { code, name: 'bench', fiscal_year: 2011, document_no: 'bench' });
  const appropriation = await post(env, `/api/v1/funds/${fund.id}/appropriations`, maker, {
    amount: '9000000000000.00',
    document_no: 'bench',
    date: '2011-06-01',
  });
  await post(env, `/api/v1/journal-entries/${appropriation.id}/approve`, checker, {});
  return String(fund.id);
}

// Manual entries may not touch 4001/6001 (only appropriations may): one fen allocated by hand.
const oneFen = (memo: string) => ({
  date: '2011-07-01',
  memo,
  postings: [
    { account_code: `5001.${bench_department}`, side: 'debit', amount: '0.01' },
    { account_code: `2307.${bench_department}`, side: 'credit', amount: '0.01' },
  ],
});

/** Prepares `total` entries (not timed), then times their approval — the posting path — at `concurrency`. */
async function approvals(
  env: BenchEnv,
  fundId: string,
  maker: Record<string, string>,
  checker: Record<string, string>,
  total: number,
  concurrency: number,
  tag: string,
) {
  const ids: string[] = [];
  await load(total, 16, async (i) => {
    ids[i] = String((await post(env, `/api/v1/funds/${fundId}/journal-entries`, maker, oneFen(`${tag} ${i}`))).id);
  });
  return load(total, concurrency, (i) => post(env, `/api/v1/journal-entries/${ids[i]}/approve`, checker, {}).then(() => undefined));
}

/**
 * The same transaction as the service's posting path, in plain SQL over pg with no HTTP, auth,
 * validation, audit or idempotency: what this machine's PostgreSQL can do at best.
 */
async function rawSqlPosting(databaseUrl: string, fundId: string, userId: string, approverId: string, total: number, concurrency: number) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency });
  // An idle client's error (e.g. the database dropped after a failure) must not crash the run and hide that failure.
  pool.on('error', () => undefined);
  const result = await load(total, concurrency, async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const f = (await c.query('SELECT head_seq, head_hash FROM funds WHERE id = $1 FOR UPDATE', [fundId])).rows[0];
      const [debit, credit] = [`5001.${bench_department}`, `2307.${bench_department}`];
      const accounts = (
        await c.query('SELECT id, code, balance FROM accounts WHERE fund_id = $1 AND code IN ($2, $3) ORDER BY id FOR UPDATE', [fundId, debit, credit])
      ).rows;
      const seq = String(BigInt(f.head_seq) + 1n);
      const createdAt = new Date();
      const hash = entryHash(f.head_hash, {
        fundId,
        seq,
        date: '2011-07-01',
        kind: 'manual',
        memo: 'raw',
        documentNo: null,
        departmentId: null,
        reversesEntryId: null,
        createdBy: userId,
        approvedBy: approverId,
        createdAt: createdAt.toISOString(),
        postings: [
          { accountCode: debit, side: 'debit', amount: '0.01' },
          { accountCode: credit, side: 'credit', amount: '0.01' },
        ],
      });
      const e = (
        await c.query(
          "INSERT INTO journal_entries (fund_id, seq, entry_date, kind, memo, created_by, approved_by, created_at, prev_hash, hash) VALUES ($1,$2,'2011-07-01','manual','raw',$3,$4,$5,$6,$7) RETURNING id",
          [fundId, seq, userId, approverId, createdAt, f.head_hash, hash],
        )
      ).rows[0];
      const byCode = Object.fromEntries(accounts.map((a) => [a.code, a]));
      // One fen more than the stored balance, in exact integer fen (a balance below 0.10 has fewer than three digits).
      const after = (code: string) => {
        const fen = (BigInt(String(byCode[code].balance).replace('.', '')) + 1n).toString().padStart(3, '0');
        return `${fen.slice(0, -2)}.${fen.slice(-2)}`;
      };
      await c.query("INSERT INTO postings (entry_id, account_id, side, amount, balance_after) VALUES ($1,$2,'debit',0.01,$3),($1,$4,'credit',0.01,$5)", [
        e.id,
        byCode[debit].id,
        after(debit),
        byCode[credit].id,
        after(credit),
      ]);
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
  const checker = await benchUser(env.db, 'accountant', 'bench_ledger_checker');
  const h = accountant.headers;
  const ch = checker.headers;
  console.log('\n## Ledger (issue 3; posting = approval of a prepared entry since issue 11)');
  await env.db('departments').insert({ code: bench_department, name: 'bench', group: 'government', status: 'completed' });

  const single1 = await newFund(env, h, ch, 'BENCH-C1');
  await approvals(env, single1, h, ch, 50, 1, 'warm');
  const c1 = await approvals(env, single1, h, ch, 500, 1, 'c1');
  const single16 = await newFund(env, h, ch, 'BENCH-C16');
  const c16 = await approvals(env, single16, h, ch, 3000, 16, 'c16');
  const rawFund = await newFund(env, h, ch, 'BENCH-RAW');
  await approvals(env, rawFund, h, ch, 1, 1, 'open accounts');
  const raw16 = await rawSqlPosting(env.databaseUrl, rawFund, accountant.id, checker.id, 3000, 16);
  const raw1 = await rawSqlPosting(env.databaseUrl, rawFund, accountant.id, checker.id, 500, 1);
  console.log(`single entry approved (posted) over HTTP, c=1 : ${fmt(c1.per_s, 0)} entries/s, p50 ${fmt(c1.p50_ms, 2)} ms, p99 ${fmt(c1.p99_ms, 2)} ms`);
  console.log(`single entry approved (posted) over HTTP, c=16: ${fmt(c16.per_s, 0)} entries/s, p50 ${fmt(c16.p50_ms, 2)} ms, p99 ${fmt(c16.p99_ms, 2)} ms`);
  console.log(`same transaction in raw SQL, c=1 : ${fmt(raw1.per_s, 0)} entries/s, p50 ${fmt(raw1.p50_ms, 2)} ms`);
  console.log(`same transaction in raw SQL, c=16: ${fmt(raw16.per_s, 0)} entries/s, p50 ${fmt(raw16.p50_ms, 2)} ms, p99 ${fmt(raw16.p99_ms, 2)} ms`);
  console.log(`HTTP / raw SQL at c=16: ${fmt(c16.per_s / raw16.per_s, 2)} (target ≥ 0.5)`);
  const afterSingles = await rssOf(env.server.pid!);

  const batchFund = await newFund(env, h, ch, 'BENCH-BATCH');
  const batch = Array.from({ length: 1000 }, (_, i) => oneFen(`batch ${i}`));
  const batchIds: string[] = [];
  for (let i = 0; i < 10; i++) batchIds.push(String((await post(env, `/api/v1/funds/${batchFund}/journal-entries/batch`, h, { entries: batch })).id));
  const batches = await load(10, 1, (i) => post(env, `/api/v1/journal-entry-batches/${batchIds[i]}/approve`, ch, {}).then(() => undefined));
  console.log(`batch approval, 10 × 1,000 entries: ${fmt(batches.per_s * 1000, 0)} entries/s, p50 ${fmt(batches.p50_ms, 0)} ms per batch (target ≥ 10,000)`);

  const readFund = await newFund(env, h, ch, 'BENCH-READ');
  /** Prepares a batch and approves it: the seeding path. */
  const postBatch = async (entries: unknown[]) => {
    const prepared = await post(env, `/api/v1/funds/${readFund}/journal-entries/batch`, h, { entries });
    await post(env, `/api/v1/journal-entry-batches/${prepared.id}/approve`, ch, {});
  };
  const readBalance = async () => {
    const res = await fetch(`${env.baseUrl}/api/v1/funds/${readFund}`, { headers: h });
    await res.json();
  };
  // 99 postings on 5001.d per entry, so 1,000,000 postings need ~10,100 entries.
  const busy = `5001.${bench_department}`;
  const wide = (n: number) => ({
    date: '2011-07-01',
    memo: 'seed',
    postings: [
      ...Array.from({ length: n }, () => ({ account_code: busy, side: 'debit', amount: '0.01' })),
      { account_code: `2307.${bench_department}`, side: 'credit', amount: (n / 100).toFixed(2) },
    ],
  });
  await postBatch(Array.from({ length: 10 }, () => wide(99)).concat([wide(9)]));
  const small = await load(2000, 1, readBalance);
  const count1k = (await env.db('accounts').where({ fund_id: readFund, code: busy }).first('posting_count')).posting_count;
  const seedStart = performance.now();
  // 150 entries of 100 postings keep each request under the 1 MiB body limit.
  for (let seeded = Number(count1k); seeded < 1_000_000; seeded += 99 * 150) {
    await postBatch(Array.from({ length: 150 }, () => wide(99)));
  }
  const seed_s = (performance.now() - seedStart) / 1000;
  const afterSeeding = await rssOf(env.server.pid!);
  const count1m = (await env.db('accounts').where({ fund_id: readFund, code: busy }).first('posting_count')).posting_count;
  const large = await load(2000, 1, readBalance);
  console.log(`balance read with ${count1k} postings on ${busy}: p50 ${fmt(small.p50_ms, 2)} ms, p99 ${fmt(small.p99_ms, 2)} ms`);
  console.log(
    `balance read with ${count1m} postings on ${busy}: p50 ${fmt(large.p50_ms, 2)} ms, p99 ${fmt(large.p99_ms, 2)} ms (seeded in ${fmt(seed_s, 0)} s through the batch endpoint); ratio ${fmt(large.p50_ms / small.p50_ms, 2)} (target < 5 ms, ≤ 1.5×)`,
  );
  const mem = await rssOf(env.server.pid!);
  console.log(
    `server RSS now ${fmt(mem.rss_mib, 0)} MiB, peak ${fmt(mem.peak_mib, 0)} MiB (target < 300 MiB); peak after the single-entry runs ${fmt(afterSingles.peak_mib, 0)} MiB, after seeding 1M postings ${fmt(afterSeeding.peak_mib, 0)} MiB`,
  );
}
