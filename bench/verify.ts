import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadDemo } from '../server/demo/load-demo.ts';
import { benchUser, fmt, rssOf, type BenchEnv } from './support.ts';

const run = promisify(execFile);

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: performance.now() - t0 };
}

async function bundleFigures(env: BenchEnv, headers: Record<string, string>, fundId: string, label: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'jiangbu-bench-bundle-'));
  try {
    const got = await timed(async () => Buffer.from(await (await fetch(`${env.baseUrl}/api/v1/funds/${fundId}/audit-bundle.zip`, { headers })).arrayBuffer()));
    const file = join(dir, 'bundle.zip');
    await writeFile(file, got.value);
    const checked = await timed(() => run(process.execPath, ['--import', 'tsx', 'scripts/verify-bundle.ts', file], { maxBuffer: 64 << 20 }));
    const inner = /\((\d+) ms\)\s*$/.exec(checked.value.stdout)?.[1];
    console.log(
      `${label}: bundle ${fmt(got.value.length / 1024, 0)} KiB built and downloaded in ${fmt(got.ms, 0)} ms; verify-bundle ${fmt(checked.ms, 0)} ms as a command (checks alone ${inner} ms), ${checked.value.stdout.includes('the bundle holds') ? 'holds' : 'DOES NOT HOLD'}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Verify and the audit bundle: the 2011 demo fund, then a fund of a million postings. */
export async function benchVerify(env: BenchEnv): Promise<void> {
  console.log('\n## Verify and audit bundle (issue 12)');
  const auditor = await benchUser(env.db, 'auditor', 'bench_auditor');
  const accountant = await benchUser(env.db, 'accountant', 'bench_accountant_v');
  await loadDemo(env.db, () => undefined);
  const demo = String((await env.db('funds').orderBy('id').first('id')).id);
  const demoVerify = await timed(async () => (await fetch(`${env.baseUrl}/api/v1/funds/${demo}/ledger/verify`, { headers: auditor.headers })).json());
  console.log(`demo fund verify: ${fmt(demoVerify.ms, 0)} ms, ok=${String((demoVerify.value as { ok: boolean }).ok)}`);
  await bundleFigures(env, auditor.headers, demo, 'demo fund');

  if (process.env.BENCH_VERIFY_POSTINGS === '0') return;
  const target = Number(process.env.BENCH_VERIFY_POSTINGS ?? 1_000_000);
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${env.baseUrl}${path}`, { method: 'POST', headers: accountant.headers, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const fund = await post('/api/v1/funds', { code: 'BENCH-VERIFY', name: 'bench', fiscal_year: 2011, document_no: 'bench' });
  await post(`/api/v1/funds/${fund.id}/appropriations`, { amount: '9000000000000.00', document_no: 'bench', date: '2011-06-01' });
  const wide = (n: number) => ({
    date: '2011-07-01',
    memo: 'seed',
    postings: [
      ...Array.from({ length: n }, () => ({ account_code: '1011', side: 'debit', amount: '0.01' })),
      { account_code: '4001', side: 'credit', amount: (n / 100).toFixed(2) },
    ],
  });
  const seed = await timed(async () => {
    for (let seeded = 0; seeded < target; seeded += 100 * 150)
      await post(`/api/v1/funds/${fund.id}/journal-entries/batch`, { entries: Array.from({ length: 150 }, () => wide(99)) });
  });
  const postings = Number(
    (await env.db.raw('SELECT count(*) AS n FROM postings p JOIN journal_entries e ON e.id = p.entry_id WHERE e.fund_id = ?', [String(fund.id)])).rows[0].n,
  );
  const before = await rssOf(env.server.pid!);
  const full = await timed(
    async () =>
      (await fetch(`${env.baseUrl}/api/v1/funds/${fund.id}/ledger/verify`, { headers: auditor.headers })).json() as Promise<{ ok: boolean; entries: number }>,
  );
  const after = await rssOf(env.server.pid!);
  console.log(
    `full verify of ${postings} postings (${full.value.entries} entries, seeded in ${fmt(seed.ms / 1000, 0)} s): ${fmt(full.ms / 1000, 1)} s, ok=${String(full.value.ok)}; server RSS ${fmt(before.rss_mib, 0)} → ${fmt(after.rss_mib, 0)} MiB (peak ${fmt(after.peak_mib, 0)} MiB)`,
  );
  const raw = await timed(() =>
    env.db.raw('SELECT count(*), sum(p.amount) FROM journal_entries e JOIN postings p ON p.entry_id = e.id WHERE e.fund_id = ?', [String(fund.id)]),
  );
  console.log(`physical limit, the same rows read and summed in SQL alone: ${fmt(raw.ms / 1000, 1)} s`);
  if (process.env.BENCH_VERIFY_BUNDLE === '1') await bundleFigures(env, auditor.headers, String(fund.id), `${postings} postings`);
}
