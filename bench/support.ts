import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { createKnex } from '../db/connection.ts';
import { startEmbeddedPostgres } from '../db/embedded.ts';
import { hashPassword } from '../server/auth/passwords.ts';
import { openSession } from '../server/auth/sessions.ts';
import { createMigratedDatabase, dropDatabase } from '../test/support/databases.ts';
import { freePort } from '../test/support/global-setup.ts';

export interface BenchEnv {
  db: Knex;
  databaseUrl: string;
  baseUrl: string;
  server: ChildProcess;
  close(): Promise<void>;
}

/** A fresh database (embedded in a temporary directory, or on DATABASE_URL's server) and the service as its own process (`serviceEnv` added to its environment). */
export async function openBench(serviceEnv: Record<string, string> = {}): Promise<BenchEnv> {
  let serverUrl = process.env.DATABASE_URL;
  let stopEmbedded: () => Promise<void> = async () => undefined;
  let dir: string | undefined;
  if (!serverUrl) {
    dir = await mkdtemp(join(tmpdir(), 'jiangbu-bench-'));
    const pg = await startEmbeddedPostgres(dir, await freePort(), { info: () => undefined, warn: console.warn });
    serverUrl = pg.url;
    stopEmbedded = pg.stop;
  }
  const databaseUrl = await createMigratedDatabase(serverUrl, 'jiangbu_bench');
  // BENCH_AUTO_EXPLAIN_MS=200 logs, to the server's log, the plan of every statement of the bench
  // database slower than that, triggers' statements included (needs a superuser DATABASE_URL).
  if (process.env.BENCH_AUTO_EXPLAIN_MS) {
    const owner = createKnex(databaseUrl, 1, 60_000);
    try {
      const name = new URL(databaseUrl).pathname.slice(1);
      for (const [k, v] of [
        ['session_preload_libraries', 'auto_explain'],
        ['auto_explain.log_min_duration', Number(process.env.BENCH_AUTO_EXPLAIN_MS)],
        ['auto_explain.log_analyze', 'on'],
        ['auto_explain.log_buffers', 'on'],
        ['auto_explain.log_nested_statements', 'on'],
      ])
        await owner.raw(`ALTER DATABASE ${name} SET ${k} = '${v}'`);
    } finally {
      await owner.destroy();
    }
  }
  const port = await freePort();
  // The service's own DATA_DIR (witness file, scans): a witness shared between runs names the heads of
  // another run's ledger, and verify rightly refuses it.
  const dataDir = await mkdtemp(join(tmpdir(), 'jiangbu-bench-data-'));
  // What `npm start` runs: the compiled service (npm run bench builds it first). BENCH_NODE_ARGS adds
  // flags for the service's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = spawn(process.execPath, [...nodeArgs, 'dist/server/main.js'], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      BOOTSTRAP_ADMIN_PASSWORD: 'bench admin password',
      ...serviceEnv,
    },
    stdio: ['ignore', process.env.BENCH_SERVICE_LOG ? 'inherit' : 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${baseUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 600) throw new Error('service did not start');
    await sleep(100);
  }
  const db = createKnex(databaseUrl, 20, 600_000);
  return {
    db,
    databaseUrl,
    baseUrl,
    server,
    async close() {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      await db.destroy();
      // BENCH_KEEP_DATABASE=1 leaves the seeded database for EXPLAIN (drop it yourself afterwards).
      if (process.env.BENCH_KEEP_DATABASE === '1' && process.env.DATABASE_URL) console.log(`kept the database: ${databaseUrl}`);
      else await dropDatabase(databaseUrl);
      await stopEmbedded();
      await rm(dataDir, { recursive: true, force: true });
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function benchUser(db: Knex, role: 'accountant' | 'auditor' | 'admin', username: string) {
  const [row] = await db('users')
    .insert({ username, password_hash: await hashPassword('bench password 1'), role })
    .returning('id');
  const { token } = await openSession(db, String(row.id), 8, '127.0.0.1');
  return { id: String(row.id), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } };
}

export async function rssOf(pid: number): Promise<{ rss_mib: number; peak_mib: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss_mib: kib('VmRSS') / 1024, peak_mib: kib('VmHWM') / 1024 };
}

export function percentile(sorted_ms: number[], p: number): number {
  return sorted_ms[Math.min(sorted_ms.length - 1, Math.floor((p / 100) * sorted_ms.length))]!;
}

/** Runs `total` calls of `work` with `concurrency` in flight; returns throughput and latency percentiles. */
export async function load(total: number, concurrency: number, work: (i: number) => Promise<void>) {
  const latencies_ms: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await work(i);
        latencies_ms.push(performance.now() - t0);
      }
    }),
  );
  const elapsed_s = (performance.now() - started) / 1000;
  latencies_ms.sort((a, b) => a - b);
  return { per_s: total / elapsed_s, p50_ms: percentile(latencies_ms, 50), p99_ms: percentile(latencies_ms, 99), elapsed_s };
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

/**
 * Flushes what the phases before wrote, so a timed phase does not pay for their checkpoint: every timed
 * ledger phase, references included, starts from one.
 */
export async function checkpoint(db: Knex): Promise<void> {
  await db.raw('CHECKPOINT');
}

/** One HTTP call to the service with its wall time; any answer but 2xx throws with its status and body. */
export async function call(env: BenchEnv, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const started = performance.now();
  const res = await fetch(`${env.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return { json: JSON.parse(text) as Record<string, unknown>, ms, bytes: text.length };
}
