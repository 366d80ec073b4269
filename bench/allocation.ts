import { benchUser, call, fmt, rssOf, type BenchEnv } from './support.ts';
import { usccCheckCharacter } from '../server/receipts/tax-id.ts';

/** 10,000 accepted units with 100,000 verified receipt lines, seeded in SQL; then a run and its approval through the API. */
export async function benchAllocation(env: BenchEnv): Promise<void> {
  console.log('\n## Allocation (issue 5)');
  const maker = await benchUser(env.db, 'accountant', 'bench_maker');
  const checker = await benchUser(env.db, 'accountant', 'bench_checker');
  const fund = (await call(env, 'POST', '/api/v1/funds', maker.headers, { code: 'BENCH-ALLOC', name: 'bench', fiscal_year: 2011, document_no: 'bench' }))
    .json as { id: string };
  const appropriation = await call(env, 'POST', `/api/v1/funds/${fund.id}/appropriations`, maker.headers, {
    amount: '500000000.00',
    document_no: 'bench',
    date: '2011-06-01',
  });
  await call(env, 'POST', `/api/v1/journal-entries/${appropriation.json.id}/approve`, checker.headers, {});
  await call(env, 'PUT', `/api/v1/funds/${fund.id}/policy`, maker.headers, {
    rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.30' },
    licence_caps: { office: '600.00', antivirus: '100.00' },
    require_completed: true,
  });
  const seedStart = performance.now();
  const seller = '91650100MA78U4NX2' + usccCheckCharacter('91650100MA78U4NX2');
  await env.db.transaction(async (trx) => {
    await trx.raw(`INSERT INTO departments (code, name, "group", status, accepted_on)
                   SELECT 'B' || lpad(g::text, 5, '0'), '单位' || g, 'government', 'completed', '2011-08-20' FROM generate_series(1, 10000) g`);
    await trx.raw(
      `INSERT INTO receipts (fund_id, department_id, invoice_kind, invoice_code, invoice_number, invoice_key, issue_date, seller_name, seller_tax_id, total, status, submitted_by)
       SELECT ?, d.id, 'vat_special', '6500999999', lpad(d.id::text, 8, '0'), '6500999999:' || lpad(d.id::text, 8, '0'), '2011-08-15', '新疆天山软件有限公司', ?, 10 * 1234.50, 'verified', ?
         FROM departments d WHERE d.code LIKE 'B_____'`,
      [fund.id, seller, maker.id],
    );
    await trx.raw(
      `INSERT INTO receipt_lines (receipt_id, line_no, product, category, licences, amount)
       SELECT r.id, n, 'product ' || n, (ARRAY['os','office','antivirus','other'])[1 + n % 4], 1 + n % 7, 1234.50
         FROM receipts r CROSS JOIN generate_series(1, 10) n WHERE r.fund_id = ?`,
      [fund.id],
    );
  });
  const seed_s = (performance.now() - seedStart) / 1000;
  const run = await call(env, 'POST', `/api/v1/funds/${fund.id}/allocation-runs`, maker.headers, { as_of: '2011-09-30' });
  const lines = (run.json.lines as unknown[]).length;
  const approval = await call(env, 'POST', `/api/v1/allocation-runs/${run.json.id}/approve`, checker.headers, {});
  const verify = await call(env, 'GET', `/api/v1/funds/${fund.id}/ledger/verify`, maker.headers);
  console.log(`seeded 10,000 units and 100,000 verified receipt lines in SQL in ${fmt(seed_s, 1)} s`);
  console.log(`allocation run through the API (compute + store draft, ${lines} lines, total ${run.json.total}): ${fmt(run.ms, 0)} ms (target < 2,000 ms)`);
  console.log(`approval through the API (recompute, staleness check, post ${lines} entries): ${fmt(approval.ms, 0)} ms`);
  console.log(`ledger verify afterwards: ok=${verify.json.ok}, ${verify.json.entries} entries, ${fmt(verify.ms, 0)} ms`);
  const mem = await rssOf(env.server.pid!);
  console.log(`server RSS now ${fmt(mem.rss_mib, 0)} MiB, peak ${fmt(mem.peak_mib, 0)} MiB`);
}
