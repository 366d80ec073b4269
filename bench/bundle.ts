import { departmentStatementModel } from '../reports/statement-model.ts';
import { renderDepartmentStatement } from '../reports/statement-pdf.ts';
import { usccCheckCharacter } from '../server/receipts/tax-id.ts';
import { documentIssuer } from '../server/config.ts';
import { loadDepartmentStatement } from '../server/statements/statement-data.ts';
import { loadavg } from 'node:os';
import { databaseCpu, processCpu } from './cpu-time.ts';
import { benchUser, call, fmt, percentile, rssOf, type BenchEnv } from './support.ts';

const units_n = Number(process.env.BENCH_BUNDLE_UNITS ?? 5000);

/** The body of a call's 2xx answer. */
const answer = async (...args: Parameters<typeof call>) => (await call(...args)).json;

/** Sequential fund reads until `stop` is set: the latencies a person would see while the job runs. */
async function fundReads(env: BenchEnv, fundId: string, headers: Record<string, string>, stop: { done: boolean }) {
  const latencies_ms: number[] = [];
  while (!stop.done) {
    const t0 = performance.now();
    const res = await fetch(`${env.baseUrl}/api/v1/funds/${fundId}`, { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`fund read: ${res.status}`);
    latencies_ms.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return latencies_ms.sort((a, b) => a - b);
}

/**
 * 5,000 accepted units, each with a verified receipt of three lines and an approved reward; then the
 * bundle of every unit's statement as a job, with fund reads running beside it and the server's memory
 * sampled. Reference: rendering alone (model already loaded), one thread, in this process.
 */
export async function benchBundle(env: BenchEnv): Promise<void> {
  console.log(`\n## Statement bundle as a job (issue 15, ${units_n} units)`);
  const maker = await benchUser(env.db, 'accountant', 'bench_bundle_maker');
  const checker = await benchUser(env.db, 'accountant', 'bench_bundle_checker');
  const auditor = await benchUser(env.db, 'auditor', 'bench_bundle_auditor');
  const fund = (await answer(env, 'POST', '/api/v1/funds', maker.headers, {
    code: 'BENCH-BUNDLE',
    name: '全省软件正版化以奖代补资金',
    fiscal_year: 2011,
    document_no: 'bench',
  })) as {
    id: string;
  };
  const appropriation = await answer(env, 'POST', `/api/v1/funds/${fund.id}/appropriations`, maker.headers, {
    amount: '500000000.00',
    document_no: 'bench',
    date: '2011-06-01',
  });
  await answer(env, 'POST', `/api/v1/journal-entries/${appropriation.id}/approve`, checker.headers, {});
  await answer(env, 'PUT', `/api/v1/funds/${fund.id}/policy`, maker.headers, {
    rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.30' },
    licence_caps: { office: '600.00', antivirus: '100.00' },
    require_completed: true,
  });
  const seller = '91650100MA78U4NX2' + usccCheckCharacter('91650100MA78U4NX2');
  const seedStart = performance.now();
  await env.db.transaction(async (trx) => {
    await trx.raw(
      `INSERT INTO departments (code, name, "group", status, accepted_on)
       SELECT 'P' || lpad(g::text, 5, '0'), '第' || g || '县财政局', 'government', 'completed', '2011-08-20' FROM generate_series(1, ?) g`,
      [units_n],
    );
    await trx.raw(
      `INSERT INTO receipts (fund_id, department_id, invoice_kind, invoice_code, invoice_number, invoice_key, issue_date, seller_name, seller_tax_id, total, status, submitted_by)
       SELECT ?, d.id, 'vat_special', '6500777777', lpad(d.id::text, 8, '0'), '6500777777:' || lpad(d.id::text, 8, '0'), '2011-08-15', '新疆天山软件有限公司', ?, 3 * 1409.50, 'verified', ?
         FROM departments d WHERE d.code LIKE 'P_____'`,
      [fund.id, seller, maker.id],
    );
    await trx.raw(
      `INSERT INTO receipt_lines (receipt_id, line_no, product, category, licences, amount)
       SELECT r.id, n, (ARRAY['Windows 7 专业版','Office 2010 标准版','瑞星杀毒软件网络版'])[n], (ARRAY['os','office','antivirus'])[n], 1 + n, 1409.50
         FROM receipts r CROSS JOIN generate_series(1, 3) n WHERE r.fund_id = ?`,
      [fund.id],
    );
  });
  const run = await answer(env, 'POST', `/api/v1/funds/${fund.id}/allocation-runs`, maker.headers, { as_of: '2011-09-30' });
  await answer(env, 'POST', `/api/v1/allocation-runs/${run.id}/approve`, checker.headers, {});
  console.log(
    `seeded ${units_n} units (receipts in SQL, rewards through an allocation run and its approval) in ${fmt((performance.now() - seedStart) / 1000, 1)} s`,
  );

  // Reference: the rendering alone, one thread, for 40 units (the job cannot beat this per thread).
  const sample = await env.db('departments').where('code', 'like', 'P_____').orderBy('code').limit(40).pluck('id');
  const models = [];
  for (const id of sample)
    models.push(departmentStatementModel(await loadDepartmentStatement(env.db, fund.id, String(id)), { office: documentIssuer().issuingOffice }));
  // The first one loads pdfkit and parses the fonts, as a render thread does once.
  await renderDepartmentStatement(models[0]!, { statementNo: 'REF-0', contentHash: 'ref', issuedAt: new Date(), issuedOn: '2011-10-01' });
  const r0 = performance.now();
  const rc0 = process.cpuUsage();
  for (const [i, m] of models.entries())
    await renderDepartmentStatement(m, { statementNo: `REF-${i}`, contentHash: 'ref', issuedAt: new Date(), issuedOn: '2011-10-01' });
  const render_ms = (performance.now() - r0) / models.length;
  const rc = process.cpuUsage(rc0);
  const renderCpu_ms = (rc.user + rc.system) / 1000 / models.length;

  const idle = { done: false };
  setTimeout(() => (idle.done = true), 3000);
  const idleCpu0 = await processCpu(env.server.pid!);
  const before = await fundReads(env, fund.id, auditor.headers, idle);
  const idleCpu1 = await processCpu(env.server.pid!);
  // What one fund read costs the main thread: the reads beside the job are part of its main-thread time.
  const readCpu_ms = (idleCpu1.main_ms - idleCpu0.main_ms) / before.length;

  const pgCpu = databaseCpu(env.db, new URL(env.databaseUrl).pathname.slice(1));
  await pgCpu.start();
  const cpu0 = await processCpu(env.server.pid!);
  const load0 = loadavg();
  const t0 = performance.now();
  const job = (await answer(env, 'POST', `/api/v1/funds/${fund.id}/statements/bundle`, auditor.headers)) as { id: string; total: number };
  const stop = { done: false };
  const reads = fundReads(env, fund.id, auditor.headers, stop);
  let rss_max_mib = 0;
  let last = { status: 'queued', done: 0 } as Record<string, unknown>;
  while (last.status === 'queued' || last.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    last = await answer(env, 'GET', `/api/v1/jobs/${job.id}`, auditor.headers);
    rss_max_mib = Math.max(rss_max_mib, (await rssOf(env.server.pid!)).rss_mib);
    await pgCpu.sample();
  }
  const job_s = (performance.now() - t0) / 1000;
  const cpu1 = await processCpu(env.server.pid!);
  await pgCpu.sample();
  const load1 = loadavg();
  stop.done = true;
  const during = await reads;
  if (last.status !== 'done') throw new Error(`job ended ${last.status}: ${last.error}`);
  const d0 = performance.now();
  const zip = Buffer.from(await (await fetch(`${env.baseUrl}/api/v1/jobs/${job.id}/result`, { headers: auditor.headers })).arrayBuffer());
  const download_s = (performance.now() - d0) / 1000;
  const entries = zip.toString('latin1').split('PK\x01\x02').length - 1;
  const mem = await rssOf(env.server.pid!);

  console.log(`bundle job of ${job.total} statements: ${fmt(job_s, 1)} s, ${fmt(job.total / job_s, 1)} statements/s (target < 180 s for 5,000 on 2 cores)`);
  const per = (ms: number) => fmt(ms / job.total, 1);
  const main_ms = cpu1.main_ms - cpu0.main_ms;
  const others_ms = cpu1.others_ms - cpu0.others_ms;
  const all_ms = main_ms + others_ms + pgCpu.total_ms();
  console.log(
    `CPU a statement: server main thread ${per(main_ms)} ms (of which the fund reads beside the job ~${per(readCpu_ms * during.length)} ms), its other threads (rendering, GC) ${per(others_ms)} ms, PostgreSQL ${per(pgCpu.total_ms())} ms; ${per(all_ms)} ms in all, so ${fmt((all_ms / job.total) * 2.5, 0)} s for 5,000 on 2 otherwise idle cores`,
  );
  console.log(
    `reference, rendering alone on one thread in this process: ${fmt(renderCpu_ms, 1)} ms CPU a statement (wall ${fmt(render_ms, 1)} ms); load average ${fmt(load0[0]!, 1)} at the start, ${fmt(load1[0]!, 1)} at the end (1 min)`,
  );
  console.log(`server RSS during the job: max ${fmt(rss_max_mib, 0)} MiB sampled each second, peak (VmHWM) ${fmt(mem.peak_mib, 0)} MiB (target < 500 MiB)`);
  console.log(
    `fund read (GET /api/v1/funds/:id) while idle: p50 ${fmt(percentile(before, 50), 1)} ms, p99 ${fmt(percentile(before, 99), 1)} ms (${before.length} reads); during the job: p50 ${fmt(percentile(during, 50), 1)} ms, p99 ${fmt(percentile(during, 99), 1)} ms (${during.length} reads; target p99 < 50 ms)`,
  );
  console.log(
    `result download: ${entries} PDFs, ${fmt(zip.length / 1024 / 1024, 1)} MiB in ${fmt(download_s, 1)} s; server RSS after ${fmt(mem.rss_mib, 0)} MiB`,
  );
}
