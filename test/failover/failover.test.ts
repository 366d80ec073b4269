import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../server/auth/passwords.ts';
import { openSession } from '../../server/auth/sessions.ts';
import { freePort } from '../support/global-setup.ts';

/*
 * `npm run test:failover` (docs/ha.md): a pg_auto_failover formation (scripts/ha/cluster.sh), the service on
 * its multi-host DATABASE_URL with DATABASE_REPLICA_URL on the standby, posting under load from several
 * clients; the primary is killed. The standby must be promoted, the service post again within seconds by
 * itself, answer 503 with Retry-After meanwhile (never 500, never a hang), keep every entry it
 * acknowledged, and verify. Before the kill: reports are read from the standby, and a session reads its
 * own writes at once.
 */
const root = join(import.meta.dirname, '../..');
const cluster = join(root, 'scripts/ha/cluster.sh');
const log = (line: string) => process.stdout.write(`[failover] ${line}\n`);

function ensurePgAutoctl(): string | undefined {
  const has = () => spawnSync('sh', ['-c', 'command -v pg_autoctl'], { stdio: 'ignore' }).status === 0;
  if (has()) return undefined;
  if (process.getuid?.() !== 0) return 'pg_autoctl is missing and only root can install it (apt-get install postgresql-15-auto-failover)';
  log('installing postgresql-15-auto-failover');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'postgresql-15-auto-failover'], { env, stdio: 'inherit', timeout: 300_000 });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit', timeout: 300_000 });
    install();
  }
  return has() ? undefined : 'pg_autoctl could not be installed (apt-get install postgresql-15-auto-failover failed)';
}

const missing = process.getuid?.() === 0 ? ensurePgAutoctl() : 'the formation runs as the postgres OS user: run the test as root';
if (missing) log(`SKIPPED: ${missing}`);

const dir = process.env.HA_DIR ?? `/tmp/jiangbu-failover-${process.pid}`;
const ports = { monitor: 0, node1: 0, node2: 0, service: 0 };
const haEnv = () => ({
  ...process.env,
  HA_MONITOR_PORT: String(ports.monitor),
  HA_NODE1_PORT: String(ports.node1),
  HA_NODE2_PORT: String(ports.node2),
});
function clusterCmd(cmd: string, timeout_ms = 240_000): string {
  const r = spawnSync('bash', [cluster, cmd, dir], { env: haEnv(), encoding: 'utf8', timeout: timeout_ms });
  if (r.status !== 0) throw new Error(`cluster.sh ${cmd} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}
let down = false;
function tearDown() {
  if (down || ports.monitor === 0) return;
  down = true;
  service?.kill('SIGKILL');
  spawnSync('bash', [cluster, 'down', dir], { env: haEnv(), stdio: 'ignore', timeout: 60_000 });
}
process.once('exit', tearDown);

let service: ChildProcess | undefined;
let dataDir: string;
let base: string;
let node: Record<'node1' | 'node2', Knex>;
let fundIds: string[] = [];
let preparer: string;
let checker: string;
let reader: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Answer {
  status: number | 'hang' | 'refused';
  body: Record<string, unknown>;
  retryAfter: string | null;
}
const counts = new Map<string, number>();
function count(a: Answer) {
  const key = typeof a.status === 'number' && a.status < 300 ? '2xx' : String(a.status);
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

let slowest_ms = 0;
async function call(method: string, path: string, token: string, body?: object): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      // The connect timeout is 10 s: an answer later than that is a hang.
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    slowest_ms = Math.max(slowest_ms, Date.now() - started);
    return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : {}, retryAfter: res.headers.get('retry-after') };
  } catch (e) {
    return { status: (e as Error).name === 'TimeoutError' ? 'hang' : 'refused', body: { error: String(e) }, retryAfter: null };
  }
}

/** Which node is a writable primary now, by asking each. */
async function writable(): Promise<'node1' | 'node2' | undefined> {
  for (const name of ['node1', 'node2'] as const) {
    try {
      const { rows } = await node[name].raw(`SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro`);
      if (!rows[0].standby && rows[0].ro === 'off') return name;
    } catch {
      // down
    }
  }
  return undefined;
}

const entryBody = (code: string, n: number) => ({
  date: '2011-07-01',
  memo: `负载 ${n}`,
  postings: [
    { account_code: `5001.${code}`, side: 'debit', amount: '1.00' },
    { account_code: `2307.${code}`, side: 'credit', amount: '1.00' },
  ],
});

async function postOne(fundId: string, code: string, n: number): Promise<{ id?: string; answers: Answer[] }> {
  const prepared = await call('POST', `/api/v1/funds/${fundId}/journal-entries`, preparer, entryBody(code, n));
  if (prepared.status !== 201) return { answers: [prepared] };
  const approved = await call('POST', `/api/v1/journal-entries/${String(prepared.body.id)}/approve`, checker, {});
  return { answers: [prepared, approved], ...(approved.status === 200 ? { id: String(prepared.body.id) } : {}) };
}

describe.skipIf(missing !== undefined)('failover of the primary under a posting load', () => {
  beforeAll(async () => {
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    const t0 = Date.now();
    clusterCmd('down', 60_000);
    down = false;
    clusterCmd('up');
    log(`formation up (monitor :${ports.monitor}, node1 :${ports.node1}, node2 :${ports.node2}) in ${seconds(Date.now() - t0)}`);
    const hosts = `127.0.0.1:${ports.node1},127.0.0.1:${ports.node2}`;
    const quiet = { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined };
    const direct = (port: number) =>
      knex({
        client: 'pg',
        log: quiet,
        connection: { connectionString: `postgres://postgres@127.0.0.1:${port}/jiangbu`, connectionTimeoutMillis: 2_000 },
        pool: { min: 0, max: 1 },
      });
    node = { node1: direct(ports.node1), node2: direct(ports.node2) };
    dataDir = mkdtempSync(join(tmpdir(), 'jiangbu-failover-data-'));
    const serviceLog = createWriteStream(join(dataDir, 'service.log'));
    const t1 = Date.now();
    service = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(ports.service),
        DATABASE_URL: `postgres://postgres@${hosts}/jiangbu?target_session_attrs=read-write`,
        DATABASE_REPLICA_URL: `postgres://postgres@${hosts}/jiangbu?target_session_attrs=standby`,
        REPLICA_MAX_LAG_MS: '5000',
        DATA_DIR: dataDir,
        JOB_RENDER_THREADS: '1',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.pipe(serviceLog);
    service.stderr!.pipe(serviceLog);
    base = `http://127.0.0.1:${ports.service}`;
    for (let i = 0; ; i++) {
      const health = await fetch(`${base}/healthz`).catch(() => undefined);
      if (health?.status === 200) break;
      if (i > 240 || service.exitCode !== null) throw new Error(`the service did not start: see ${join(dataDir, 'service.log')}`);
      await sleep(500);
    }
    log(`service up on :${ports.service} in ${seconds(Date.now() - t1)}`);

    // Users and units straight in the database (sign-in and unit import are tested elsewhere); funds through the API.
    const primary = node.node1;
    const passwordHash = await hashPassword('correct horse battery staple');
    const user = async (username: string, role: string) => {
      const [row] = await primary('users').insert({ username, password_hash: passwordHash, role }).returning('id');
      return (await openSession(primary, String(row.id), 8, '127.0.0.1')).token;
    };
    preparer = await user('failover_preparer', 'accountant');
    checker = await user('failover_checker', 'accountant');
    reader = await user('failover_reader', 'auditor');
    fundIds = [];
    for (let i = 0; i < 4; i++) {
      const fund = await call('POST', '/api/v1/funds', preparer, {
        code: `FO${i}`,
        name: '软件正版化以奖代补资金',
        fiscal_year: 2011,
        document_no: `新财行〔2011〕${i}号`,
      });
      expect(fund.status).toBe(201);
      fundIds.push(String(fund.body.id));
      await primary('departments').insert({ code: `FO${i}`, name: `测试单位${i}`, group: 'government', status: 'not_started' });
    }
  });
  afterAll(async () => {
    service?.kill('SIGTERM');
    await sleep(500);
    await node?.node1.destroy();
    await node?.node2.destroy();
    tearDown();
    if (dataDir) {
      // What the service said about the standby, for whoever reads the run.
      const said = readFileSync(join(dataDir, 'service.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('DATABASE_REPLICA_URL'))
        .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { time: number; msg: string }) : { time: 0, msg: l }))
        .map((l) => `${new Date(l.time).toISOString().slice(11, 23)} ${l.msg}`);
      for (const line of said) log(`service: ${line}`);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('reads reports from the standby, and a session its own writes at once', async () => {
    expect(await writable()).toBe('node1');
    const journal = (token: string) => call('GET', `/api/v1/funds/${fundIds[0]}/journal?limit=20`, token);
    const has = (a: Answer, id: string) => (a.body.items as Array<{ id: string }>).some((e) => e.id === id);
    // Replay paused on the standby: what it serves is visibly older than the primary, within REPLICA_MAX_LAG_MS.
    await sleep(2_000);
    await node.node2.raw('SELECT pg_wal_replay_pause()');
    try {
      const { id } = await postOne(fundIds[0]!, 'FO0', 0);
      expect(id).toBeDefined();
      const own = await journal(checker);
      const other = await journal(reader);
      expect([own.status, other.status]).toEqual([200, 200]);
      expect(has(own, id!)).toBe(true); // the session that approved it: the primary
      expect(has(other, id!)).toBe(false); // another session: the standby, which has not replayed it
      // Past the lag bound the standby is skipped: the same session now reads the primary.
      await sleep(6_500);
      expect(has(await journal(reader), id!)).toBe(true);
      await node.node2.raw('SELECT pg_wal_replay_resume()');
      await sleep(2_500);
      expect(has(await journal(reader), id!)).toBe(true);
    } finally {
      await node.node2.raw('SELECT pg_wal_replay_resume()').catch(() => undefined);
    }
    // Under load from several clients, each approval followed at once by a read in the approving session.
    let misses = 0;
    let reads = 0;
    await Promise.all(
      fundIds.map(async (fundId, i) => {
        for (let n = 1; n <= 5; n++) {
          const { id } = await postOne(fundId, `FO${i}`, n);
          expect(id).toBeDefined();
          const seen = await call('GET', `/api/v1/funds/${fundId}/journal?limit=20`, checker);
          reads++;
          if (!has(seen, id!)) misses++;
          await call('GET', `/api/v1/funds/${fundId}/trial-balance`, reader);
        }
      }),
    );
    expect({ reads, misses }).toEqual({ reads: 20, misses: 0 });
  });

  it('promotes the standby when the primary is killed; the service posts again within seconds and loses no acknowledged entry', async () => {
    counts.clear();
    const acknowledged: string[] = [];
    const retryAfters = new Set<string | null>();
    const unexpected: Answer[] = [];
    let killedAt = 0;
    let firstPostAfterKill = 0;
    let running = true;
    const clients = fundIds.map(async (fundId, i) => {
      for (let n = 100; running; n++) {
        const started = Date.now();
        const { id, answers } = await postOne(fundId, `FO${i}`, n);
        for (const a of answers) {
          count(a);
          if (a.status === 503) retryAfters.add(a.retryAfter);
          else if (!(typeof a.status === 'number' && a.status < 300)) unexpected.push(a);
        }
        if (id) {
          acknowledged.push(id);
          if (killedAt && started > killedAt && !firstPostAfterKill) firstPostAfterKill = Date.now();
        } else await sleep(250);
      }
    });
    // Reports are read meanwhile too: from the standby, then from whatever answers.
    let reportsServed = 0;
    const reports = (async () => {
      for (let n = 0; running; n++) {
        const a = await call('GET', `/api/v1/funds/${fundIds[n % fundIds.length]}/${n % 2 ? 'trial-balance' : 'journal?limit=20'}`, reader);
        count(a);
        if (a.status === 503) retryAfters.add(a.retryAfter);
        else if (a.status !== 200) unexpected.push(a);
        else reportsServed++;
        await sleep(a.status === 200 ? 50 : 250);
      }
    })();
    await sleep(5_000);
    const before = acknowledged.length;
    slowest_ms = 0;
    killedAt = Date.now();
    log(`${new Date(killedAt).toISOString().slice(11, 23)} ${clusterCmd('kill-primary').trim()}`);
    let promotedAt = 0;
    while (Date.now() - killedAt < 90_000) {
      if ((await writable()) === 'node2') {
        promotedAt = Date.now();
        break;
      }
      await sleep(250);
    }
    expect(promotedAt, 'node2 became a writable primary').toBeGreaterThan(0);
    while (!firstPostAfterKill && Date.now() - promotedAt < 30_000) await sleep(100);
    await sleep(5_000);
    running = false;
    await Promise.all([...clients, reports]);

    const figures = {
      promotion: seconds(promotedAt - killedAt),
      postingAgain: firstPostAfterKill ? seconds(firstPostAfterKill - killedAt) : 'never',
      acknowledgedBeforeKill: before,
      acknowledged: acknowledged.length,
      answers: Object.fromEntries(counts),
      reportsServed,
      slowestAnswerAfterKill: seconds(slowest_ms),
    };
    log(`figures ${JSON.stringify(figures)}`);
    expect(unexpected.map((a) => [a.status, a.body.code ?? a.body.error])).toEqual([]);
    expect(counts.get('503') ?? 0).toBeGreaterThan(0);
    expect([...retryAfters]).toEqual(['5']);
    expect(firstPostAfterKill - promotedAt).toBeLessThan(15_000);

    // Every acknowledged entry is on the new primary, and the ledger verifies.
    const present = await node.node2('journal_entries').whereIn('id', acknowledged).pluck('id');
    expect(present.map(String).sort()).toEqual([...acknowledged].sort());
    for (const fundId of fundIds) {
      const verify = await call('GET', `/api/v1/funds/${fundId}/ledger/verify`, reader);
      expect(verify.status).toBe(200);
      expect(verify.body.ok).toBe(true);
    }
  });
});
