import { readFile } from 'node:fs/promises';
import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { inTransaction } from '../db/transaction.ts';
import { importDepartments } from '../departments/departments.ts';
import type { RequestContext } from '../http/context.ts';
import { recordAppropriation } from '../ledger/appropriate.ts';
import { createFund } from '../ledger/funds.ts';
import { createUser } from '../users/users.ts';

export const demoPassword = 'jiangbu-demo-2011';
const demoFundCode = 'XJ-2011-RJZBH';

const demoUsers = [
  { username: 'kuaiji', role: 'accountant' as const },
  { username: 'kuaiji2', role: 'accountant' as const },
  { username: 'shenji', role: 'auditor' as const },
  { username: 'tongjiju', role: 'department' as const, departmentCode: 'XJ005' },
];

/**
 * The 2011 case as a newcomer should first see it: the 71 units of the notice with their statuses,
 * one user per role (two accountants, for maker–checker), and the 12,450,000.00 fund appropriated.
 * Loading twice changes nothing.
 */
export async function loadDemo(db: Knex, print: (line: string) => void): Promise<void> {
  if (await db('funds').where({ code: demoFundCode }).first('id')) return;
  const ctx: RequestContext = { actor: null, requestId: 'demo', ip: 'local' };
  const csv = await readFile(new URL('../../db/seed/units-2011.csv', import.meta.url), 'utf8');
  const { created, updated } = await importDepartments(db, ctx, csv);
  const users = new Map<string, { id: string; username: string }>();
  for (const u of demoUsers) {
    const existing = await db('users').where({ username: u.username }).first('id', 'username');
    const departmentId = 'departmentCode' in u ? String((await db('departments').where({ code: u.departmentCode }).first('id')).id) : undefined;
    users.set(u.username, existing ? { id: String(existing.id), username: u.username } : await createUser(db, ctx, { username: u.username, password: demoPassword, role: u.role, department_id: departmentId }));
  }
  const accountant = users.get('kuaiji')!;
  const asAccountant: RequestContext = { ...ctx, actor: { id: accountant.id, username: accountant.username, role: 'accountant', departmentId: null, sessionId: 'demo' } };
  const fund = await createFund(db, asAccountant, { code: demoFundCode, name: '自治区软件正版化以奖代补资金', fiscal_year: 2011, document_no: '新政办发〔2011〕软件正版化' });
  await inTransaction(db, (trx) => recordAppropriation(trx, asAccountant, fund.id, { amount: new Decimal('12450000.00'), document_no: '新财行〔2011〕1245万元', date: '2011-06-01' }));
  print(`demo loaded: ${created} units created, ${updated} updated; fund ${demoFundCode} with 12,450,000.00 appropriated`);
  print(`demo users (password "${demoPassword}"): ${demoUsers.map((u) => `${u.username} (${u.role})`).join(', ')}`);
}
