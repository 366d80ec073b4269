import type { Knex } from 'knex';
import { assertOwnDepartment } from '../auth/scope.ts';
import type { Actor } from '../auth/roles.ts';
import { licencesBeyondComputers, pooledCompliance, unitCompliance, type LicencesByCategory } from './asset-rules.ts';
import { computersByUnit, currentInstalledBase } from './asset-changes.ts';
import { licencesInUse } from './register.ts';

const none = (): LicencesByCategory => ({ os: 0, office: 0, antivirus: 0 });

/**
 * Compliance per unit, for the programme and per group: licences in use ÷ computers per category,
 * capped at 1, overall = the lowest of os / office / antivirus. Every unit is listed; one that
 * has not reported its installed base shows null rates.
 */
export async function complianceReport(db: Knex, filter: { group?: string | undefined } = {}) {
  const units: Array<{ id: string; code: string; name: string; group: string }> = await db('departments')
    .modify((q) => (filter.group ? q.where('group', filter.group) : q))
    .orderBy('code')
    .select('id', 'code', 'name', 'group');
  const held = await licencesInUse(db);
  const computers = await computersByUnit(db);
  const rows = units.map((u) => {
    const id = String(u.id);
    const licences = held.get(id) ?? none();
    const count = computers.has(id) ? computers.get(id)! : null;
    return {
      department_id: id,
      department_code: String(u.code),
      name: String(u.name),
      group: String(u.group),
      computers: count,
      licences,
      ...unitCompliance(licences, count),
    };
  });
  const groups = [...new Set(rows.map((r) => r.group))].sort();
  return {
    items: rows,
    overall: pooledCompliance(rows.map((r) => ({ licences: r.licences, computers: r.computers }))),
    by_group: Object.fromEntries(
      groups.map((g) => [g, pooledCompliance(rows.filter((r) => r.group === g).map((r) => ({ licences: r.licences, computers: r.computers })))]),
    ),
  };
}

export async function unitComplianceOf(db: Knex, actor: Actor, departmentId: string) {
  assertOwnDepartment(actor, departmentId);
  const base = await currentInstalledBase(db, departmentId);
  const licences = (await licencesInUse(db, [departmentId])).get(departmentId) ?? none();
  return { installed_base: base, licences, ...unitCompliance(licences, base?.computers ?? null) };
}

/**
 * For the reviewer of a receipt: would verifying it give the unit more licences of a kind than it
 * has computers? A warning, not a refusal — a unit may license spares or servers.
 */
export async function receiptLicenceWarnings(
  db: Knex,
  receipt: { status: string; department_id: string; lines: Array<{ category: string; licences: number }> },
) {
  if (receipt.status !== 'submitted') return [];
  const base = await currentInstalledBase(db, receipt.department_id);
  if (!base) return [{ code: 'NO_INSTALLED_BASE', message: '该单位尚未报告计算机数量，无法核对申报套数' }];
  const held = (await licencesInUse(db, [receipt.department_id])).get(receipt.department_id) ?? none();
  const adding: Partial<LicencesByCategory> = {};
  for (const l of receipt.lines)
    if (l.category in held) adding[l.category as keyof LicencesByCategory] = (adding[l.category as keyof LicencesByCategory] ?? 0) + l.licences;
  const names: Record<string, string> = { os: '操作系统', office: '办公软件', antivirus: '杀毒软件' };
  return licencesBeyondComputers(held, adding, base.computers).map((w) => ({
    code: 'LICENCES_EXCEED_COMPUTERS',
    category: w.category,
    message: `审核通过后该单位${names[w.category]}将有 ${w.licences} 套授权，多于其报告的 ${w.computers} 台计算机（截至 ${base.as_of}）`,
  }));
}
