import { usccCheckCharacter } from '../server/receipts/tax-id.ts';
import { databaseCpu, processCpu } from './cpu-time.ts';
import { seedUnits } from './scale-data.ts';
import { benchUser, call, fmt, type BenchEnv } from './support.ts';

/*
 * Allocation at province scale (issue 15 item 5): a run for every unit over a million verified receipt
 * lines, and its approval (one entry per unit). Part of `npm run bench -- scale`, and on its own as
 * `npm run bench -- allocation-scale` (SCALE_UNITS, SCALE_RECEIPT_LINES): seeding the units and the
 * lines in SQL takes seconds, not the ten million postings of the whole scale part. Wall time is
 * printed with the CPU time of the service and of the database backends serving it, so figures taken
 * on a shared machine can still be compared.
 */

const fiscal_year = 2025;

/**
 * CPU used by the service and by the database sessions serving the bench database, measured around
 * `work`. Not counted: autovacuum, and the short-lived parallel workers a query may start (so a
 * parallel query's database CPU reads low).
 */
async function withCpu<T>(env: BenchEnv, work: () => Promise<T>): Promise<{ result: T; service_s: number; database_s: number }> {
  const database = databaseCpu(env.db, new URL(env.databaseUrl).pathname.slice(1));
  await database.start();
  const service0 = await processCpu(env.server.pid!);
  const result = await work();
  const service1 = await processCpu(env.server.pid!);
  await database.sample();
  const service_ms = service1.main_ms + service1.others_ms - service0.main_ms - service0.others_ms;
  return { result, service_s: service_ms / 1000, database_s: database.total_ms() / 1000 };
}

export async function benchAllocationScale(env: BenchEnv): Promise<void> {
  const unitCount = Number(process.env.SCALE_UNITS ?? 5000);
  console.log(`\n## Allocation at province scale (issue 15 item 5): ${unitCount} units`);
  const maker = await benchUser(env.db, 'accountant', 'scale_maker');
  const checker = await benchUser(env.db, 'accountant', 'scale_checker');
  const units = await seedUnits(env.db, unitCount, []);
  await benchAllocationAtScale(env, units, maker, checker);
}

export async function benchAllocationAtScale(
  env: BenchEnv,
  units: Array<{ id: string; code: string }>,
  maker: { id: string; headers: Record<string, string> },
  checker: { headers: Record<string, string> },
): Promise<void> {
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
  await env.db.raw('VACUUM ANALYZE receipts, receipt_lines');
  const seeded = Number(
    (await env.db.raw('SELECT count(*) AS n FROM receipt_lines l JOIN receipts r ON r.id = l.receipt_id WHERE r.fund_id = ?', [fund])).rows[0].n,
  );
  console.log(
    `\nallocation: ${seeded.toLocaleString('en')} verified receipt lines for ${units.length} units seeded in SQL in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );
  const cpu = (c: { service_s: number; database_s: number }) => `CPU: service ${fmt(c.service_s, 2)} s, database ${fmt(c.database_s, 2)} s`;
  const run = await withCpu(env, () => call(env, 'POST', `/api/v1/funds/${fund}/allocation-runs`, maker.headers, { as_of: `${fiscal_year}-06-30` }));
  console.log(
    `  run computed and stored (${(run.result.json.lines as unknown[]).length} lines, total ${String(run.result.json.total)}, ${fmt(run.result.bytes / 1048576, 1)} MiB answer): ${fmt(run.result.ms, 0)} ms (${cpu(run)}) — target < 5,000 ms`,
  );
  const approval = await withCpu(env, () => call(env, 'POST', `/api/v1/allocation-runs/${run.result.json.id}/approve`, checker.headers, {}));
  console.log(`  approval (recheck and post one entry per unit): ${fmt(approval.result.ms, 0)} ms (${cpu(approval)}) — target < 10,000 ms`);
}
