import { readFile } from 'node:fs/promises';
import { usccCheckCharacter } from '../server/receipts/tax-id.ts';
import { benchUser, fmt, type BenchEnv } from './support.ts';

async function timed(env: BenchEnv, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const started = performance.now();
  const res = await fetch(`${env.baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${bytes.toString().slice(0, 300)}`);
  return { bytes, ms: performance.now() - started, json: () => JSON.parse(bytes.toString()) as Record<string, unknown> };
}

/** The 71 units of 2011 with receipts, one allocation run and payments; then statements through the API. */
export async function benchStatements(env: BenchEnv): Promise<void> {
  console.log('\n## Statements (issue 6)');
  const maker = await benchUser(env.db, 'accountant', 'bench_stmt_maker');
  const checker = await benchUser(env.db, 'accountant', 'bench_stmt_checker');
  const csv = (await readFile(new URL('../db/seed/units-2011.csv', import.meta.url), 'utf8')).replace(/^XJ/gm, 'S');
  await timed(env, 'POST', '/api/v1/departments/import?effective_date=2011-08-31', { ...maker.headers, 'content-type': 'text/csv' }, csv);
  await env.db('departments').where('code', 'like', 'S%').where({ status: 'completed' }).update({ accepted_on: '2011-08-20' });
  const fund = (
    await timed(env, 'POST', '/api/v1/funds', maker.headers, {
      code: 'BENCH-STMT',
      name: '自治区软件正版化以奖代补资金',
      fiscal_year: 2011,
      document_no: '新政办发〔2011〕',
    })
  ).json() as { id: string };
  const appropriation = (
    await timed(env, 'POST', `/api/v1/funds/${fund.id}/appropriations`, maker.headers, { amount: '12450000.00', document_no: 'bench', date: '2011-06-01' })
  ).json() as { id: string };
  await timed(env, 'POST', `/api/v1/journal-entries/${appropriation.id}/approve`, checker.headers, {});
  await timed(env, 'PUT', `/api/v1/funds/${fund.id}/policy`, maker.headers, {
    rates: { os: '0.50', office: '0.50', antivirus: '0.50', other: '0.50' },
    licence_caps: { office: '600.00', antivirus: '100.00' },
    require_completed: true,
  });
  const seller = '91650100MA78U4NX2' + usccCheckCharacter('91650100MA78U4NX2');
  await env.db.transaction(async (trx) => {
    await trx.raw(
      `INSERT INTO receipts (fund_id, department_id, invoice_kind, invoice_code, invoice_number, invoice_key, issue_date, seller_name, seller_tax_id, total, status, submitted_by)
       SELECT ?, d.id, 'vat_special', '6500888888', lpad(d.id::text, 8, '0'), '6500888888:' || lpad(d.id::text, 8, '0'), '2011-08-15', '新疆天山软件有限公司', ?,
              CASE WHEN d.code = 'S001' THEN 1000 * 98.00 ELSE 10 * 1409.50 END, 'verified', ?
         FROM departments d WHERE d.code LIKE 'S%' AND d.status = 'completed'`,
      [fund.id, seller, maker.id],
    );
    await trx.raw(
      `INSERT INTO receipt_lines (receipt_id, line_no, product, category, licences, amount)
       SELECT r.id, n, CASE WHEN n % 2 = 0 THEN 'Office 2010 标准版' ELSE 'Windows 7 专业版' END, CASE WHEN n % 2 = 0 THEN 'office' ELSE 'os' END, 1,
              CASE WHEN d.code = 'S001' THEN 98.00 ELSE 1409.50 END
         FROM receipts r JOIN departments d ON d.id = r.department_id
         CROSS JOIN LATERAL generate_series(1, CASE WHEN d.code = 'S001' THEN 1000 ELSE 10 END) n
        WHERE r.fund_id = ?`,
      [fund.id],
    );
  });
  const run = (await timed(env, 'POST', `/api/v1/funds/${fund.id}/allocation-runs`, maker.headers, { as_of: '2011-09-30' })).json();
  await timed(env, 'POST', `/api/v1/allocation-runs/${run.id}/approve`, checker.headers, {});
  const big = await env.db('departments').where({ code: 'S001' }).first('id');
  const pay = (
    await timed(env, 'POST', `/api/v1/funds/${fund.id}/disbursements`, maker.headers, {
      department_id: String(big.id),
      amount: '1000.00',
      voucher_no: 'B-1',
      date: '2011-10-08',
    })
  ).json();
  await timed(env, 'POST', `/api/v1/disbursements/${pay.id}/approve`, checker.headers, {});

  const statement = await timed(env, 'GET', `/api/v1/funds/${fund.id}/departments/${big.id}/statement.pdf`, maker.headers);
  const again = await timed(env, 'GET', `/api/v1/funds/${fund.id}/departments/${big.id}/statement.pdf`, maker.headers);
  console.log(
    `statement with 1,000 receipt lines: first issue ${fmt(statement.ms, 0)} ms, ${fmt(statement.bytes.length / 1024, 0)} KiB (targets < 1,000 ms, < 300 KiB); re-download ${fmt(again.ms, 0)} ms, identical: ${Buffer.compare(statement.bytes, again.bytes) === 0}`,
  );
  const summary = await timed(env, 'GET', `/api/v1/funds/${fund.id}/summary.pdf`, maker.headers);
  const units = await env.db('departments').count<{ n: string }[]>('* as n');
  console.log(`fund summary (${units[0]!.n} units in the database): ${fmt(summary.ms, 0)} ms, ${fmt(summary.bytes.length / 1024, 0)} KiB`);
  // Every unit's statement in one zip is a job now: `npm run bench -- bundle` measures it at 5,000 units.
}
