import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMigratedDatabase, dropDatabase } from '../support/databases.ts';
import { freePort } from '../support/global-setup.ts';

/*
 * An operator who starts the service wrongly gets one line saying what is wrong and what to do,
 * a non-zero exit, no stack trace, and never a process that hangs or spins.
 */
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'jiangbu-startup-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  stderr: string;
}

async function start(env: Record<string, string>): Promise<Outcome> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'warn',
    PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    DATA_DIR: join(scratch, 'data'),
    ...env,
  };
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

function expectOneLine(outcome: Outcome, pattern: RegExp): void {
  expect(outcome.code).toBe(1);
  const lines = outcome.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
}

describe('starting the service wrongly', () => {
  it('names a taken port before touching any data', async () => {
    const holder: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, resolve));
    try {
      const dataDir = join(scratch, 'never-created');
      expectOneLine(await start({ PORT: String(port), DATA_DIR: dataDir }), new RegExp(`port ${port} is already in use.*PORT`));
    } finally {
      holder.close();
    }
  });

  it('names a DATA_DIR whose parent is a file', async () => {
    await writeFile(join(scratch, 'a-file'), 'x');
    expectOneLine(await start({ DATA_DIR: join(scratch, 'a-file', 'data') }), /DATA_DIR .* cannot be used: .*file.*set DATA_DIR/);
  });

  it('names a DATA_DIR that cannot be created (under /proc), without spinning', async () => {
    expectOneLine(await start({ DATA_DIR: '/proc/jiangbu-data' }), /DATA_DIR \/proc\/jiangbu-data cannot be used/);
  });

  it('refuses a second service on a claimed DATA_DIR with DATABASE_URL too', async () => {
    const dataDir = join(scratch, 'claimed');
    await mkdir(dataDir, { recursive: true });
    // This test process stands for the first service (a live node process holding the claim).
    await writeFile(join(dataDir, 'jiangbu.pid'), `${process.pid}\n`);
    expectOneLine(await start({ DATA_DIR: dataDir, DATABASE_URL: inject('databaseUrl') }), /another Jiangbu process \(pid \d+\) is using DATA_DIR/);
  });

  it('names a DATABASE_URL whose server is not there, without its password', async () => {
    // Port 1 (tcpmux) has no listener on any machine this runs on: a free port picked at random could be
    // taken by another test's server before the service dials it (seen in CI: "Connection terminated").
    const outcome = await start({ DATABASE_URL: 'postgres://someone:secret@127.0.0.1:1/jiangbu' });
    expectOneLine(outcome, /connection refused/);
    expect(outcome.stderr).not.toContain('secret');
  });

  it('names a WITNESS_FILE that cannot be written', async () => {
    const url = await createMigratedDatabase(inject('serverUrl'), 'jiangbu_witness');
    try {
      expectOneLine(
        await start({ DATABASE_URL: url, WITNESS_FILE: '/proc/jiangbu-witness/witness.jsonl' }),
        /WITNESS_FILE \/proc\/jiangbu-witness\/witness.jsonl cannot be written/,
      );
    } finally {
      await dropDatabase(url);
    }
  });

  it('refuses a bad setting by name', async () => {
    expectOneLine(await start({ PORT: 'eighty' }), /PORT must be a positive integer/);
  });
});
