import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createRenderPool } from '../../server/jobs/render-pool.ts';
import { departmentStatementModel } from '../../reports/statement-model.ts';
import { renderDepartmentStatement, type Issue } from '../../reports/statement-pdf.ts';
import type { DepartmentStatementData } from '../../server/statements/statement-data.ts';

/*
 * The threads that render a bundle's statements (server/jobs/render-pool.ts): the same bytes as the
 * service's own thread draws for the same statement (the fonts are parsed once per thread and shared by
 * its documents), and background priority where the system gives threads their own.
 */
const data: DepartmentStatementData = {
  fund: {
    id: '1',
    code: 'XJ-2011',
    name: '软件正版化以奖代补资金',
    document_no: '新财行〔2011〕88号',
    fiscal_year: 2011,
    head_seq: 12,
    head_hash: 'a'.repeat(64),
  },
  department: { id: '7', code: '0101', name: '𠮷木萨尔县财政局', status: 'completed', accepted_on: '2011-08-20' },
  people: { preparers: ['maker'], approvers: ['checker'] },
  lines: [
    {
      id: '3',
      invoice_kind: 'vat_special',
      invoice_code: '6500111111',
      invoice_number: '00000042',
      issue_date: '2011-08-15',
      seller_name: '新疆天山软件有限公司',
      line_no: 1,
      product: 'Windows 7 专业版',
      category: 'os',
      licences: 20,
      amount: '28190.00',
    },
  ],
  allocations: [
    {
      run_id: '1',
      as_of: '2011-09-30',
      entitlement: '14095.00',
      previously_allocated: '0.00',
      amount: '14095.00',
      clawback: '0.00',
      to_recover: '0.00',
      explanation: { categories: { os: { base: '28190.00', rate: '0.5', cap_per_licence: null, capped_lines: 0 } } },
    },
  ],
  findingClawbacks: [],
  payments: [{ kind: 'payment', voucher_no: '付-0001', pay_date: '2011-10-08', amount: '14095.00' }],
  totals: { allocated: '14095.00', paid: '14095.00', payable: '0.00', to_recover: '0.00' },
  head: { seq: 12, hash: 'a'.repeat(64) },
};
const model = departmentStatementModel(data, { office: '自治区财政厅' });
const issue = (n: number): Issue => ({
  statementNo: `XJ-2011-2011-${String(n).padStart(5, '0')}`,
  contentHash: 'b'.repeat(64),
  issuedAt: new Date('2011-10-09T02:00:00Z'),
  issuedOn: '2011-10-09',
});
const pool = createRenderPool(2, 7);
afterAll(() => pool.close());

/** The nice value in a /proc stat file (Linux). */
const niceOf = (path: string) => {
  const stat = readFileSync(path, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
};

describe('the render threads', () => {
  it('draw a statement byte for byte as this thread does, again and again', async () => {
    const here = [await renderDepartmentStatement(model, issue(1)), await renderDepartmentStatement(model, issue(2))];
    const there = await Promise.all([1, 2, 1, 2].map((n) => pool.render(model, issue(n))));
    expect(there.map((b) => b.equals(here[0]!) || b.equals(here[1]!))).toEqual([true, true, true, true]);
    expect(there[0]!.equals(here[0]!) && there[1]!.equals(here[1]!) && there[2]!.equals(there[0]!)).toBe(true);
    expect(here[0]!.equals(here[1]!)).toBe(false);
  }, 60_000);

  it.runIf(process.platform === 'linux')('run at the nice value asked for, while the service’s own threads keep theirs', async () => {
    await pool.render(model, issue(3));
    const process_nice = niceOf('/proc/self/stat');
    const nices = readdirSync('/proc/self/task').map((tid) => niceOf(`/proc/self/task/${tid}/stat`));
    // Two render threads at nice 7 (or the process's own, if that is higher); the process's main thread as it was.
    expect(nices.filter((n) => n === Math.max(7, process_nice)).length).toBeGreaterThanOrEqual(2);
    expect(niceOf(`/proc/self/task/${process.pid}/stat`)).toBe(process_nice);
  });
});
