import { loadavg } from 'node:os';
import { usccCheckCharacter } from '../server/receipts/tax-id.ts';
import { seedFund, seedUnits, type ScaleFund, type SeedSplit } from './scale-data.ts';
import { benchUser, fmt, percentile, rssOf, type BenchEnv } from './support.ts';

/*
 * `npm run bench -- scale` (issue 15): a province on one PostgreSQL — 5,000 units, 3 funds and
 * SCALE_POSTINGS postings (10 million unless told; SCALE_UNITS for the units) written in plain SQL
 * that the ledger's triggers check (bench/scale-data.ts) — then the p50 of each read a person waits
 * for, over SCALE_REPEAT calls through the HTTP API, verify full and incremental, and an allocation
 * run for every unit over a million verified receipt lines with its approval.
 */

const fiscal_year = 2025;

async function call(env: BenchEnv, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const started = performance.now();
  const res = await fetch(`${env.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return { json: JSON.parse(text) as Record<string, unknown>, ms };
}

async function p50(env: BenchEnv, path: string, headers: Record<string, string>, repeat: number) {
  const times: number[] = [];
  let last: Record<string, unknown> = {};
  for (let i = 0; i < repeat; i++) {
    const r = await call(env, 'GET', path, headers);
    times.push(r.ms);
    last = r.json;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), last };
}

export async function benchScale(env: BenchEnv): Promise<void> {
  const unitCount = Number(process.env.SCALE_UNITS ?? 5000);
  const postings = Number(process.env.SCALE_POSTINGS ?? 10_000_000);
  const repeat = Number(process.env.SCALE_REPEAT ?? 20);
  console.log(`\n## Province scale (issue 15): ${unitCount} units, 3 funds, ${postings.toLocaleString('en')} postings`);
  const maker = await benchUser(env.db, 'accountant', 'scale_maker');
  const checker = await benchUser(env.db, 'accountant', 'scale_checker');
  const auditor = await benchUser(env.db, 'auditor', 'scale_auditor');
  const funds: ScaleFund[] = [];
  for (const code of ['PROV-A', 'PROV-B', 'PROV-C']) {
    const f = await call(env, 'POST', '/api/v1/funds', maker.headers, {
      code,
      name: `省级以奖代补资金 ${code}`,
      fiscal_year,
      document_no: `省财〔${fiscal_year}〕1号`,
    });
    funds.push({ id: String(f.json.id), code });
  }
  const seedStart = performance.now();
  const units = await seedUnits(env.db, unitCount, funds);
  let done = 0;
  let shown = 0;
  const splits: SeedSplit[] = await Promise.all(
    funds.map((f, i) =>
      seedFund(
        env.databaseUrl,
        f,
        units,
        { maker: maker.id, checker: checker.id },
        fiscal_year,
        Math.floor(postings / 3) + (i === 0 ? postings % 3 : 0),
        (n) => {
          done += n;
          if (done - shown >= 1_000_000) {
            shown = done;
            console.log(`  … ${done.toLocaleString('en')} postings in ${fmt((performance.now() - seedStart) / 1000, 0)} s`);
          }
        },
      ),
    ),
  );
  const seed_s = (performance.now() - seedStart) / 1000;
  console.log(
    `seeded ${done.toLocaleString('en')} postings in ${fmt(seed_s, 0)} s (${fmt(done / seed_s, 0)} postings/s, 3 funds in parallel): plain SQL — ` +
      `one INSERT…SELECT unnest(arrays) of 10,000 entries and one of their postings per transaction, every ledger trigger on; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  const sum = (part: keyof SeedSplit) => fmt(splits.reduce((s, x) => s + x[part], 0) / 1000, 0);
  console.log(
    `  time of the 3 funds added up: ${sum('build')} s hashing and arrays in JS, ${sum('entries')} s entries INSERT (chain, voucher numbers), ` +
      `${sum('postings')} s postings INSERT (balances, guards, figures, day balances), ${sum('commit')} s COMMIT (deferred posted check)`,
  );
  const vacuum = performance.now();
  await env.db.raw('VACUUM ANALYZE');
  console.log(`VACUUM ANALYZE: ${fmt((performance.now() - vacuum) / 1000, 0)} s`);

  const fund = funds[0]!.id;
  const unit = units[Math.floor(units.length / 2)]!;
  const a = auditor.headers;
  const reads: Array<[string, string, number]> = [
    ['fund read', `/api/v1/funds/${fund}`, 2],
    ['trial balance, current', `/api/v1/funds/${fund}/trial-balance`, 300],
    ['trial balance as of 2025-06-30', `/api/v1/funds/${fund}/trial-balance?as_of=2025-06-30`, 300],
    ['trial balance as of 2025-12-31', `/api/v1/funds/${fund}/trial-balance?as_of=2025-12-31`, 300],
    ['journal first page, unfiltered', `/api/v1/funds/${fund}/journal?limit=50`, 50],
    ['journal first page, account 1011 and a month', `/api/v1/funds/${fund}/journal?limit=50&account=1011&from=2025-03-01&to=2025-03-31`, 50],
    ['journal first page, kind allocation and a month', `/api/v1/funds/${fund}/journal?limit=50&kind=allocation&from=2025-03-01&to=2025-03-31`, 50],
    [
      'journal first page, account 2307.d, its unit, kind disbursement, a quarter',
      `/api/v1/funds/${fund}/journal?limit=50&account=2307.${unit.code}&department_id=${unit.id}&kind=disbursement&from=2025-04-01&to=2025-06-30`,
      50,
    ],
    ['journal first page, account 2307 (every unit) and a month', `/api/v1/funds/${fund}/journal?limit=50&account=2307&from=2025-09-01&to=2025-09-30`, 50],
    ['account ledger (明细账) 1011, first page', `/api/v1/funds/${fund}/accounts/1011/ledger?limit=50`, 50],
    [`account ledger (明细账) 2307.${unit.code}, first page`, `/api/v1/funds/${fund}/accounts/2307.${unit.code}/ledger?limit=50`, 50],
    ['accounts, first page', `/api/v1/funds/${fund}/accounts?limit=100`, 100],
    ['positions, first page', `/api/v1/funds/${fund}/positions?limit=100`, 100],
    ['audit log, first page', `/api/v1/audit-log?limit=100`, 100],
    ['progress report', `/api/v1/progress`, 100],
  ];
  console.log(`\nreads, p50 (p99) over ${repeat} calls through HTTP, fund ${funds[0]!.code}:`);
  for (const [name, path, target] of reads) {
    const r = await p50(env, path, a, repeat);
    console.log(`  ${name}: ${fmt(r.p50, 1)} ms (${fmt(r.p99, 1)}) — target < ${target} ms`);
  }
  // The ledger page after the first: its cursor.
  const first = await call(env, 'GET', `/api/v1/funds/${fund}/accounts/1011/ledger?limit=50`, a);
  const second = await p50(env, `/api/v1/funds/${fund}/accounts/1011/ledger?limit=50&cursor=${first.json.next_cursor}`, a, repeat);
  console.log(`  account ledger 1011, second page: ${fmt(second.p50, 1)} ms — target < 50 ms`);
  const reference = performance.now();
  await env.db.raw(
    `SELECT a.id, (SELECT b.balance FROM account_day_balances b WHERE b.account_id = a.id AND b.day <= '2025-06-30' ORDER BY b.day DESC LIMIT 1) FROM accounts a WHERE a.fund_id = ?`,
    [fund],
  );
  console.log(`  reference: the as-of trial balance's bare SQL alone (one probe per account): ${fmt(performance.now() - reference, 1)} ms`);

  await benchVerifyAtScale(env, fund, a, maker.headers, checker.headers);
  await benchAllocationAtScale(env, units, maker, checker);
  const mem = await rssOf(env.server.pid!);
  console.log(`server RSS now ${fmt(mem.rss_mib, 0)} MiB, peak ${fmt(mem.peak_mib, 0)} MiB`);
}

async function benchVerifyAtScale(env: BenchEnv, fund: string, a: Record<string, string>, maker: Record<string, string>, checker: Record<string, string>) {
  const count = Number(
    (await env.db.raw('SELECT count(*) AS n FROM postings p JOIN journal_entries e ON e.id = p.entry_id WHERE e.fund_id = ?', [fund])).rows[0].n,
  );
  const before = await rssOf(env.server.pid!);
  const full = await call(env, 'GET', `/api/v1/funds/${fund}/ledger/verify?mode=full`, a);
  const after = await rssOf(env.server.pid!);
  console.log(
    `\nfull verify of fund A (${count.toLocaleString('en')} postings, ${full.json.entries} entries): ${fmt(full.ms / 1000, 1)} s, ok=${String(full.json.ok)}; server RSS ${fmt(before.rss_mib, 0)} → ${fmt(after.rss_mib, 0)} MiB (peak ${fmt(after.peak_mib, 0)} MiB) — target < 60 s; load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const raw = performance.now();
  await env.db.raw('SELECT count(*), sum(p.amount) FROM journal_entries e JOIN postings p ON p.entry_id = e.id WHERE e.fund_id = ?', [fund]);
  console.log(`  reference: the same rows read and summed in SQL alone: ${fmt((performance.now() - raw) / 1000, 1)} s`);
  // A few entries posted through the service since the checkpoint, then the incremental verify.
  for (let i = 0; i < 10; i++) {
    const prepared = await call(env, 'POST', `/api/v1/funds/${fund}/journal-entries`, maker, {
      date: '2025-12-31',
      memo: `scale manual ${i}`,
      postings: [
        { account_code: '1011', side: 'credit', amount: '1.00' },
        { account_code: '5001.P00001', side: 'debit', amount: '1.00' },
      ],
    });
    await call(env, 'POST', `/api/v1/journal-entries/${prepared.json.id}/approve`, checker, {});
  }
  const first = await call(env, 'GET', `/api/v1/funds/${fund}/ledger/verify?mode=incremental`, a);
  const checkpoint = first.json.checkpoint as { seq?: number } | null;
  console.log(
    `incremental verify after 10 more entries: ${fmt(first.ms, 0)} ms, ok=${String(first.json.ok)}, recomputed ${String(first.json.entries_checked)} entries after checkpoint seq ${String(checkpoint?.seq)} — target < 1,000 ms`,
  );
  const again = await p50(env, `/api/v1/funds/${fund}/ledger/verify?mode=incremental`, a, 5);
  console.log(`incremental verify with nothing new since the checkpoint: p50 ${fmt(again.p50, 0)} ms over 5 calls`);
}

async function benchAllocationAtScale(
  env: BenchEnv,
  units: Array<{ id: string; code: string }>,
  maker: { id: string; headers: Record<string, string> },
  checker: { headers: Record<string, string> },
) {
  const lines = Number(process.env.SCALE_RECEIPT_LINES ?? 1_000_000);
  const f = await call(env, 'POST', '/api/v1/funds', maker.headers, { code: 'PROV-ALLOC', name: '省级以奖代补（分配）', fiscal_year, document_no: 'bench' });
  const fund = String(f.json.id);
  const appropriation = await call(env, 'POST', `/api/v1/funds/${fund}/appropriations`, maker.headers, {
    amount: '9000000000.00',
    document_no: 'bench',
    date: `${fiscal_year}-02-01`,
  });
  await call(env, 'POST', `/api/v1/journal-entries/${appropriation.json.id}/approve`, checker.headers, {});
  await call(env, 'PUT', `/api/v1/funds/${fund}/policy`, maker.headers, {
    rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.30' },
    licence_caps: { office: '600.00', antivirus: '100.00' },
    require_completed: true,
  });
  const seller = '91650100MA78U4NX2' + usccCheckCharacter('91650100MA78U4NX2');
  const perReceipt = 10;
  const receiptsPerUnit = Math.max(1, Math.round(lines / perReceipt / units.length));
  const t0 = performance.now();
  await env.db.transaction(async (trx) => {
    await trx.raw(`UPDATE departments SET accepted_on = '${fiscal_year}-03-01' WHERE code LIKE 'P%'`);
    await trx.raw(
      `INSERT INTO receipts (fund_id, department_id, invoice_kind, invoice_code, invoice_number, invoice_key, issue_date, seller_name, seller_tax_id, total, status, submitted_by)
       SELECT ?, d.id, 'vat_special', '6500888888', lpad((d.id * 1000 + k)::text, 8, '0'), '6500888888:' || lpad((d.id * 1000 + k)::text, 8, '0'),
              '${fiscal_year}-02-15', '新疆天山软件有限公司', ?, ${perReceipt} * 123.45, 'verified', ?
         FROM departments d CROSS JOIN generate_series(1, ?) k WHERE d.code LIKE 'P%'`,
      [fund, seller, maker.id, receiptsPerUnit],
    );
    await trx.raw(
      `INSERT INTO receipt_lines (receipt_id, line_no, product, category, licences, amount)
       SELECT r.id, n, '正版软件 ' || n, (ARRAY['os','office','antivirus','other'])[1 + n % 4], 1 + n % 7, 123.45
         FROM receipts r CROSS JOIN generate_series(1, ${perReceipt}) n WHERE r.fund_id = ?`,
      [fund],
    );
  });
  await env.db.raw('ANALYZE receipts, receipt_lines');
  const seeded = Number(
    (await env.db.raw('SELECT count(*) AS n FROM receipt_lines l JOIN receipts r ON r.id = l.receipt_id WHERE r.fund_id = ?', [fund])).rows[0].n,
  );
  console.log(
    `\nallocation: ${seeded.toLocaleString('en')} verified receipt lines for ${units.length} units seeded in SQL in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  const run = await call(env, 'POST', `/api/v1/funds/${fund}/allocation-runs`, maker.headers, { as_of: `${fiscal_year}-06-30` });
  console.log(
    `  run computed and stored (${(run.json.lines as unknown[]).length} lines, total ${String(run.json.total)}): ${fmt(run.ms, 0)} ms — target < 5,000 ms`,
  );
  const approval = await call(env, 'POST', `/api/v1/allocation-runs/${run.json.id}/approve`, checker.headers, {});
  console.log(`  approval (recheck and post one entry per unit): ${fmt(approval.ms, 0)} ms — target < 10,000 ms`);
}
