import pg from 'pg';
import { entryHash } from '../server/ledger/entry-hash.ts';
import { bareBatch, bareShape, type BareFigures } from './bare-shape.ts';
import { batchFloor, batchFloorLine } from './batch-floor.ts';
import {
  approveBatch,
  approveEntry,
  createFund,
  prepareAppropriation,
  prepareBatch,
  prepareEntry,
  signIn,
  type ManualEntry,
  type Session,
} from './service-calls.ts';
import { keepAliveClient } from './keep-alive.ts';
import { benchUser, checkpoint, fmt, load, rssOf, type BenchEnv } from './support.ts';

const bench_department = 'BENCHD';

async function newFund(maker: Session, checker: Session, code: string) {
  const fund = await createFund(maker, { code, name: 'bench', fiscal_year: 2011, document_no: 'bench' });
  const appropriation = await prepareAppropriation(maker, String(fund.id), { amount: '9000000000000.00', document_no: 'bench', date: '2011-06-01' });
  await approveEntry(checker, String(appropriation.id));
  return String(fund.id);
}

// Manual entries may not touch 4001/6001 (only appropriations may): one fen allocated by hand.
const oneFen = (memo: string): ManualEntry => ({
  date: '2011-07-01',
  memo,
  postings: [
    { account_code: `5001.${bench_department}`, side: 'debit' as const, amount: '0.01' },
    { account_code: `2307.${bench_department}`, side: 'credit' as const, amount: '0.01' },
  ],
});

/**
 * Prepares `total` entries (not timed), then times their approval — the posting path — at `concurrency`,
 * through the keep-alive client (keep-alive.ts); failures are counted, not thrown.
 */
async function approvals(env: BenchEnv, fundId: string, maker: Session, checker: Session, total: number, concurrency: number, tag: string) {
  const ids: string[] = [];
  await load(total, 16, async (i) => {
    ids[i] = String((await prepareEntry(maker, fundId, oneFen(`${tag} ${i}`))).id);
  });
  let errors = 0;
  const client = keepAliveClient(env.baseUrl, checker.token, concurrency);
  await checkpoint(env.db);
  const figures = await load(total, concurrency, async (i) => {
    const res = await client.post(`/api/v1/journal-entries/${ids[i]}/approve`, '{}').catch(() => ({ status: 0 }));
    if (res.status !== 200) errors++;
  });
  client.close();
  return { ...figures, errors };
}

/**
 * The transaction the service's posting path ran before issue 14 (lock fund, lock accounts, entry with
 * chain link, postings, commit), in plain SQL over pg: kept for comparison only. It carries the
 * service's own overhead, so it is not the reference; the bare shape (bare-shape.ts) is.
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

const bareLine = (b: BareFigures, c: number) =>
  `bare shape (the reference: the issue's SQL in scratch tables, ${b.tool}), c=${c}: ${fmt(b.per_s, 0)} entries/s, ${b.failed} failed`;

export async function benchLedger(env: BenchEnv): Promise<void> {
  const accountant = await benchUser(env.db, 'accountant', 'bench_accountant');
  const checkerUser = await benchUser(env.db, 'accountant', 'bench_ledger_checker');
  const h = await signIn(env.baseUrl, 'bench_accountant', 'bench password 1');
  const ch = await signIn(env.baseUrl, 'bench_ledger_checker', 'bench password 1');
  console.log('\n## Ledger (issue 14: posting = approval of a prepared entry; reference = the bare shape on the same PostgreSQL)');
  await env.db('departments').insert({ code: bench_department, name: 'bench', group: 'government', status: 'completed' });

  const single1 = await newFund(h, ch, 'BENCH-C1');
  await approvals(env, single1, h, ch, 50, 1, 'warm');
  const c1 = await approvals(env, single1, h, ch, 300, 1, 'c1');
  // Each reference runs right before the API phase it is compared with: on a shared virtual machine
  // the host's speed drifts over minutes, and a pair taken together drifts together.
  const fund16 = await newFund(h, ch, 'BENCH-C16');
  const bare16 = await bareShape(env.db, env.databaseUrl, 16);
  const c16 = await approvals(env, fund16, h, ch, 3000, 16, 'c16');
  const fund64 = await newFund(h, ch, 'BENCH-C64');
  const bare64 = await bareShape(env.db, env.databaseUrl, 64);
  const c64 = await approvals(env, fund64, h, ch, 4000, 64, 'c64');
  const rawFund = await newFund(h, ch, 'BENCH-RAW');
  await approvals(env, rawFund, h, ch, 1, 1, 'open accounts');
  await checkpoint(env.db);
  const raw16 = await rawSqlPosting(env.databaseUrl, rawFund, accountant.id, checkerUser.id, 3000, 16);
  console.log(bareLine(bare16, 16));
  console.log(bareLine(bare64, 64));
  for (const [c, r] of [
    [1, c1],
    [16, c16],
    [64, c64],
  ] as const) {
    console.log(
      `posted entry through the API (prepare untimed, approve timed), c=${c}: ${fmt(r.per_s, 0)} entries/s, p50 ${fmt(r.p50_ms, 2)} ms, p99 ${fmt(r.p99_ms, 2)} ms, ${r.errors} errors`,
    );
  }
  console.log(`API / bare shape at c=16: ${fmt(c16.per_s / bare16.per_s, 2)} (target ≥ 0.8); at c=64: ${fmt(c64.per_s / bare64.per_s, 2)}`);
  console.log(
    `(for comparison only, not a reference) the pre-issue-14 posting transaction in raw SQL, c=16: ${fmt(raw16.per_s, 0)} entries/s, p50 ${fmt(raw16.p50_ms, 2)} ms`,
  );
  const afterSingles = await rssOf(env.server.pid!);

  const batchFund = await newFund(h, ch, 'BENCH-BATCH');
  // The unit's accounts are opened first (by the explaining path), so the ten timed batches all post.
  await approvals(env, batchFund, h, ch, 1, 1, 'open accounts');
  const batch = Array.from({ length: 1000 }, (_, i) => oneFen(`batch ${i}`));
  const batchIds: string[] = [];
  for (let i = 0; i < 10; i++) batchIds.push(String((await prepareBatch(h, batchFund, batch)).id));
  const bareBatches = await bareBatch(env.db, env.databaseUrl);
  await checkpoint(env.db);
  const batches = await load(10, 1, (i) => approveBatch(ch, batchIds[i]!).then(() => undefined));
  // Twelve batches on twelve funds: a warm pair, then five calls without the database's checks and five with.
  const floorBatchIds: string[] = [];
  for (let i = 0; i < 12; i++) {
    const fund = await newFund(h, ch, `BENCH-FLOOR-${i}`);
    await approvals(env, fund, h, ch, 1, 1, 'open accounts');
    floorBatchIds.push(String((await prepareBatch(h, fund, batch)).id));
  }
  await checkpoint(env.db);
  const floor = await batchFloor(env.db, env.databaseUrl, floorBatchIds, checkerUser.id, batch.length);
  console.log(`bare batch (the batch path's reference: the issue's SQL, ${bareBatches.tool}): ${fmt(bareBatches.per_s, 0)} entries/s`);
  console.log(
    `batch approval, 10 × 1,000 entries: ${fmt(batches.per_s * 1000, 0)} entries/s, p50 ${fmt(batches.p50_ms, 0)} ms per batch (target ≥ 30,000); ${fmt((batches.per_s * 1000) / bareBatches.per_s, 2)} × the bare batch`,
  );
  console.log(batchFloorLine(floor));

  const readFundId = await newFund(h, ch, 'BENCH-READ');
  /** Prepares a batch and approves it: the seeding path. */
  const postBatch = async (entries: ManualEntry[]) => {
    const prepared = await prepareBatch(h, readFundId, entries);
    await approveBatch(ch, String(prepared.id));
  };
  // Timed through the keep-alive client, as the approvals are; an answer that is not this fund fails the run.
  const reader = keepAliveClient(env.baseUrl, h.token, 1);
  const readBalance = async () => {
    const res = await reader.get(`/api/v1/funds/${readFundId}`);
    if (res.status !== 200 || JSON.parse(res.text).id !== readFundId) throw new Error(`fund read answered ${res.status}: ${res.text.slice(0, 200)}`);
  };
  // 99 postings on 5001.d per entry, so 1,000,000 postings need ~10,100 entries.
  const busy = `5001.${bench_department}`;
  const wide = (n: number): ManualEntry => ({
    date: '2011-07-01',
    memo: 'seed',
    postings: [
      ...Array.from({ length: n }, () => ({ account_code: busy, side: 'debit' as const, amount: '0.01' })),
      { account_code: `2307.${bench_department}`, side: 'credit' as const, amount: (n / 100).toFixed(2) },
    ],
  });
  await postBatch(Array.from({ length: 10 }, () => wide(99)).concat([wide(9)]));
  const small = await load(2000, 1, readBalance);
  const count1k = (await env.db('accounts').where({ fund_id: readFundId, code: busy }).first('posting_count')).posting_count;
  const seedStart = performance.now();
  // 150 entries of 100 postings keep each request under the 1 MiB body limit.
  for (let seeded = Number(count1k); seeded < 1_000_000; seeded += 99 * 150) {
    await postBatch(Array.from({ length: 150 }, () => wide(99)));
  }
  const seed_s = (performance.now() - seedStart) / 1000;
  const afterSeeding = await rssOf(env.server.pid!);
  const count1m = (await env.db('accounts').where({ fund_id: readFundId, code: busy }).first('posting_count')).posting_count;
  // What autovacuum does after a million inserts, done here before the timing instead of during it.
  await env.db.raw('VACUUM ANALYZE postings, journal_entries, accounts, funds');
  const large = await load(2000, 1, readBalance);
  reader.close();
  console.log(`balance read with ${count1k} postings on ${busy}: p50 ${fmt(small.p50_ms, 2)} ms, p99 ${fmt(small.p99_ms, 2)} ms`);
  console.log(
    `balance read with ${count1m} postings on ${busy}: p50 ${fmt(large.p50_ms, 2)} ms, p99 ${fmt(large.p99_ms, 2)} ms (seeded in ${fmt(seed_s, 0)} s through the batch endpoint); ratio ${fmt(large.p50_ms / small.p50_ms, 2)} (target p50 < 2 ms)`,
  );
  const mem = await rssOf(env.server.pid!);
  console.log(
    `server RSS now ${fmt(mem.rss_mib, 0)} MiB, peak ${fmt(mem.peak_mib, 0)} MiB (target < 300 MiB); peak after the single-entry runs ${fmt(afterSingles.peak_mib, 0)} MiB, after seeding 1M postings ${fmt(afterSeeding.peak_mib, 0)} MiB`,
  );
}
