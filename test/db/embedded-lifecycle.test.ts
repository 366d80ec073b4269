import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/global-setup.ts';

/*
 * The service as a newcomer runs it: `npm start` with no DATABASE_URL, on its embedded PostgreSQL.
 * Started, stopped, restarted with its data, and restarted after being killed with SIGKILL.
 */
let dataDir: string;
let port: number;
let service: ChildProcess | undefined;
const password = 'lifecycle admin password';

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'jiangbu-lifecycle-'));
  port = await freePort();
});
afterAll(async () => {
  service?.kill('SIGTERM');
  await sleep(2000);
  await rm(dataDir, { recursive: true, force: true });
});

async function start(): Promise<number> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    EMBEDDED_PG_PORT: String(await freePort()),
    BOOTSTRAP_ADMIN_PASSWORD: password,
    LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  const started = Date.now();
  service = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env, stdio: 'ignore' });
  for (let waited_ms = 0; waited_ms < 60_000; waited_ms += 100) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return Date.now() - started;
    if (service.exitCode !== null) throw new Error(`service exited with ${service.exitCode}`);
    await sleep(100);
  }
  throw new Error('service did not become healthy in 60 s');
}

function exited(p: ChildProcess): Promise<number | null> {
  return p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

const postmasterPid = () => Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function signIn(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

describe('the embedded database', () => {
  it('starts on first use, serves, and lets the bootstrap admin sign in and write', async () => {
    const first_ms = await start();
    console.log(`embedded first start (initdb + migrations): ${first_ms} ms`);
    const token = await signIn();
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/departments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ code: 'XJ005', name: '统计局', group: 'government' }),
    });
    expect(res.status).toBe(201);
  });

  it('stops PostgreSQL when the service gets SIGTERM', async () => {
    const pid = postmasterPid();
    expect(alive(pid)).toBe(true);
    service!.kill('SIGTERM');
    expect(await exited(service!)).toBe(0);
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
    expect(alive(pid)).toBe(false);
  });

  it('restarts with its data', async () => {
    const second_ms = await start();
    console.log(`embedded second start: ${second_ms} ms`);
    const token = await signIn();
    const list = await fetch(`http://127.0.0.1:${port}/api/v1/departments`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await list.json()) as { items: Array<{ code: string }> }).items.map((d) => d.code)).toEqual(['XJ005']);
  });

  it('refuses a second service on the same DATA_DIR with one line, and the first keeps serving', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    };
    delete env.DATABASE_URL;
    const second = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    second.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exited(second)).toBe(1);
    expect(stderr.trim()).toMatch(/^jiangbu: another Jiangbu process \(pid \d+\) is using DATA_DIR .*; stop it first or choose another DATA_DIR$/);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  it('starts cleanly after the service was killed with SIGKILL, stopping the PostgreSQL it left behind', async () => {
    const orphan = postmasterPid();
    service!.kill('SIGKILL');
    await exited(service!);
    expect(alive(orphan)).toBe(true);
    const after_kill_ms = await start();
    console.log(`embedded start after SIGKILL: ${after_kill_ms} ms`);
    expect(alive(orphan)).toBe(false);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(true);
    await signIn();
  });
});
