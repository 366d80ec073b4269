import { Decimal } from 'decimal.js';
import type { Knex } from 'knex';
import { setPolicy } from '../allocation/policy.ts';
import { approveRun, createRun } from '../allocation/runs.ts';
import { reportInstalledBase } from '../assets/asset-changes.ts';
import type { Actor } from '../auth/roles.ts';
import type { RequestContext } from '../http/context.ts';
import { prepareClawback } from '../inspections/clawbacks.ts';
import { addFinding } from '../inspections/findings.ts';
import { createInspection } from '../inspections/inspections.ts';
import { setTarget } from '../progress/programme.ts';
import { setDeadline } from '../progress/written-reports.ts';

const as = (ctx: RequestContext, user: { id: string; username: string }, role: Actor['role']): RequestContext => ({
  ...ctx,
  actor: { id: user.id, username: user.username, role, departmentId: null, sessionId: 'demo' },
});

/**
 * The notice's other half, as a newcomer should first see it: registers (already derived from the
 * verified receipts), installed bases for a few units, the written-report deadline (9月20日) and the
 * target (all units by 10月底), a policy and an approved allocation so units are owed something, and
 * one inspection with two findings — one with a clawback prepared and waiting for a second accountant.
 */
export async function loadSupervisionDemo(
  db: Knex,
  ctx: RequestContext,
  fundId: string,
  users: Map<string, { id: string; username: string }>,
): Promise<string> {
  const maker = as(ctx, users.get('kuaiji')!, 'accountant');
  const checker = as(ctx, users.get('kuaiji2')!, 'accountant');
  const inspector = as(ctx, users.get('ducha')!, 'inspector');
  await setDeadline(db, maker, { deadline: '2011-09-20', title: '未开展软件正版化工作单位专题书面报告' });
  await setTarget(db, maker, { target_date: '2011-10-31', target_rate: '1.0000', in_person_days: 10 });

  // Units with verified receipts report their computers: a few more than they licensed, as was typical.
  const licensed = await db('software_assets')
    .where({ status: 'in_use', category: 'os' })
    .groupBy('department_id')
    .orderBy('department_id')
    .select('department_id', db.raw('sum(licences)::int AS n'));
  for (const [i, u] of licensed.entries()) {
    await reportInstalledBase(db, maker, String(u.department_id), { as_of: '2011-09-01', computers: u.n + 2 * i, servers: 1 + (i % 2) });
  }
  const procuring = await db('departments').where({ status: 'procuring' }).orderBy('code').limit(2).select('id');
  for (const u of procuring) await reportInstalledBase(db, maker, String(u.id), { as_of: '2011-09-01', computers: 40, servers: 2 });

  const half = new Decimal('0.50');
  await setPolicy(db, maker, fundId, {
    rates: { os: half, office: half, antivirus: half, other: half },
    licence_caps: { office: new Decimal('600.00'), antivirus: new Decimal('100.00') },
    require_completed: false,
  });
  const run = await createRun(db, maker, fundId, '2011-09-30');
  await approveRun(db, checker, run.id);

  const [visited] = licensed;
  const inspection = await createInspection(db, inspector, {
    document_no: '新软正督〔2011〕1号',
    team: ['张建国', '李娜', '艾尔肯'],
    date: '2011-09-26',
    department_ids: [String(visited.department_id), ...procuring.slice(0, 1).map((u) => String(u.id))],
  });
  const unlicensed = await addFinding(db, inspector, inspection.id, {
    department_id: String(visited.department_id),
    kind: 'unlicensed_installs',
    unlicensed_installs: 6,
    description: '抽查 20 台计算机，其中 6 台仍安装未授权的 Office 2007，与上报的完成情况不符',
    deadline: '2011-10-20',
  });
  if (procuring[0]) {
    await addFinding(db, inspector, inspection.id, {
      department_id: String(procuring[0].id),
      kind: 'register_mismatch',
      description: '软件资产台账未建立，采购合同与安装数量无法核对',
      deadline: '2011-10-31',
    });
  }
  await prepareClawback(db, maker, unlicensed.id, { fund_id: fundId, amount: new Decimal('500.00') });
  return `inspection ${inspection.document_no} with ${procuring[0] ? 2 : 1} findings (a clawback of 500.00 waiting for kuaiji2), installed bases for ${licensed.length + procuring.length} units`;
}
