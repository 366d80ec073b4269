import { readFile } from 'node:fs/promises';
import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { inTransaction } from '../db/transaction.ts';
import { importDepartments } from '../departments/departments.ts';
import type { RequestContext } from '../http/context.ts';
import { projectPath } from '../project-root.ts';
import { prepareAppropriation } from '../ledger/appropriate.ts';
import { approveEntry } from '../ledger/pending-entries.ts';
import { createFund } from '../ledger/funds.ts';
import { createUser } from '../users/users.ts';
import { submitReceipt } from '../receipts/receipts.ts';
import { reviewReceipt } from '../receipts/review.ts';
import { usccCheckCharacter } from '../receipts/tax-id.ts';
import { loadSupervisionDemo } from './supervision-demo.ts';

export const demoPassword = 'jiangbu-demo-2011';
const demoFundCode = 'XJ-2011-RJZBH';

const demoUsers = [
  { username: 'kuaiji', role: 'accountant' as const },
  { username: 'kuaiji2', role: 'accountant' as const },
  { username: 'shenji', role: 'auditor' as const },
  { username: 'tongjiju', role: 'department' as const, departmentCode: 'XJ005' },
  { username: 'ducha', role: 'inspector' as const },
];

/**
 * The 2011 case as a newcomer should first see it: the 71 units of the notice with their statuses,
 * one user per role (two accountants, for maker–checker), and the 12,450,000.00 fund appropriated.
 * Loading twice changes nothing.
 */
export async function loadDemo(db: Knex, print: (line: string) => void): Promise<void> {
  if (await db('funds').where({ code: demoFundCode }).first('id')) return;
  const ctx: RequestContext = { actor: null, requestId: 'demo', ip: 'local' };
  const csv = await readFile(projectPath('db', 'seed', 'units-2011.csv'), 'utf8');
  // The notice describes the units as of late August 2011.
  const { created, updated } = await importDepartments(db, ctx, csv, '2011-08-31');
  const users = new Map<string, { id: string; username: string }>();
  for (const u of demoUsers) {
    const existing = await db('users').where({ username: u.username }).first('id', 'username');
    const departmentId = 'departmentCode' in u ? String((await db('departments').where({ code: u.departmentCode }).first('id')).id) : undefined;
    users.set(
      u.username,
      existing
        ? { id: String(existing.id), username: u.username }
        : await createUser(db, ctx, { username: u.username, password: demoPassword, role: u.role, department_id: departmentId }, { demo: true }),
    );
  }
  const asUser = (u: { id: string; username: string }): RequestContext => ({
    ...ctx,
    actor: { id: u.id, username: u.username, role: 'accountant', departmentId: null, sessionId: 'demo' },
  });
  const asAccountant = asUser(users.get('kuaiji')!);
  const asSecondAccountant = asUser(users.get('kuaiji2')!);
  const fund = await createFund(db, asAccountant, {
    code: demoFundCode,
    name: '自治区软件正版化以奖代补资金',
    fiscal_year: 2011,
    document_no: '新政办发〔2011〕软件正版化',
  });
  // 制单 by one accountant, 审核 by the other: the demo posts as the books require.
  const prepared = await inTransaction(db, (trx) =>
    prepareAppropriation(trx, asAccountant, fund.id, { amount: new Decimal('12450000.00'), document_no: '新财行〔2011〕1245万元', date: '2011-06-01' }),
  );
  await inTransaction(db, (trx) => approveEntry(trx, asSecondAccountant, prepared.id));
  const receipts = await loadSampleReceipts(db, asAccountant, fund.id);
  const supervision = await loadSupervisionDemo(db, ctx, fund.id, users);
  print(
    `demo loaded: ${created} units created, ${updated} updated; fund ${demoFundCode} with 12,450,000.00 appropriated; ${receipts} sample receipts; ${supervision}`,
  );
  print(`demo users (password "${demoPassword}"): ${demoUsers.map((u) => `${u.username} (${u.role})`).join(', ')}`);
}

/** Sample purchase receipts from completed units: what an accountant reviews first. */
async function loadSampleReceipts(db: Knex, ctx: RequestContext, fundId: string): Promise<number> {
  const units = await db('departments').where({ status: 'completed' }).orderBy('code').limit(6).select('id', 'code');
  const seller = '91650100MA78U4NX2' + usccCheckCharacter('91650100MA78U4NX2')!;
  let n = 0;
  for (const [i, unit] of units.entries()) {
    const licences = 10 + i * 5;
    const lines = [
      { product: 'Windows 7 专业版', category: 'os' as const, licences, amount: new Decimal('820.00').times(licences) },
      { product: 'Office 2010 标准版', category: 'office' as const, licences, amount: new Decimal('1409.50').times(licences) },
      { product: '瑞星杀毒软件网络版', category: 'antivirus' as const, licences, amount: new Decimal('98.00').times(licences) },
    ];
    const receipt = await submitReceipt(db, ctx, String(unit.id), fundId, {
      invoice_kind: 'vat_special',
      invoice_code: '6500111130',
      invoice_number: String(20110801 + i),
      issue_date: `2011-08-${String(10 + i).padStart(2, '0')}`,
      seller_name: '新疆天山软件有限公司',
      seller_tax_id: seller,
      lines,
      total: lines.reduce((s, l) => s.plus(l.amount), new Decimal(0)),
    });
    if (i < 4) await reviewReceipt(db, ctx, receipt.id, 'verified');
    n++;
  }
  return n;
}
