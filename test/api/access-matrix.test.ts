import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../server/app.ts';
import type { Role } from '../../server/auth/roles.ts';
import { makeDepartment, makeUser, openHarness, type Harness, type TestUser } from '../support/harness.ts';

/**
 * Who may call what, written out independently of server/auth/policy.ts. A new route without a
 * row here fails the first test; a policy that drifts from this table fails the second.
 */
const expected: Record<string, Role[] | 'public'> = {
  'GET /healthz': 'public',
  'GET /openapi.json': 'public',
  'GET /docs': 'public',
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/logout': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/auth/me': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/auth/password': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/users': ['admin'],
  'GET /api/v1/users': ['admin'],
  'PATCH /api/v1/users/:id': ['admin'],
  'POST /api/v1/departments': ['admin', 'accountant'],
  'POST /api/v1/departments/import': ['admin', 'accountant'],
  'GET /api/v1/departments': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/departments/:id': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'PATCH /api/v1/departments/:id': ['admin', 'accountant'],
  'POST /api/v1/departments/acceptance': ['accountant'],
  'POST /api/v1/disbursements/approve': ['accountant'],
  'POST /api/v1/allocation-runs/:id/disbursements': ['accountant'],
  'GET /api/v1/audit-log': ['admin', 'auditor'],
  'GET /api/v1/audit-log/export': ['admin', 'auditor'],
  'POST /api/v1/funds': ['accountant'],
  'GET /api/v1/funds': ['admin', 'accountant', 'auditor'],
  'GET /api/v1/funds/:id': ['admin', 'accountant', 'auditor'],
  'GET /api/v1/funds/:id/accounts': ['accountant', 'auditor'],
  'POST /api/v1/funds/:id/appropriations': ['accountant'],
  'POST /api/v1/funds/:id/journal-entries': ['accountant'],
  'POST /api/v1/funds/:id/journal-entries/batch': ['accountant'],
  'POST /api/v1/journal-entries/:id/reversal': ['accountant'],
  'GET /api/v1/funds/:id/journal-entries': ['accountant', 'auditor'],
  'GET /api/v1/journal-entries/:id': ['accountant', 'auditor'],
  'POST /api/v1/journal-entries/:id/approve': ['accountant'],
  'POST /api/v1/journal-entries/:id/reject': ['accountant'],
  'GET /api/v1/journal-entry-batches/:id': ['accountant', 'auditor'],
  'POST /api/v1/journal-entry-batches/:id/approve': ['accountant'],
  'POST /api/v1/journal-entry-batches/:id/reject': ['accountant'],
  'POST /api/v1/funds/:id/period-closes': ['accountant'],
  'GET /api/v1/funds/:id/period-closes': ['accountant', 'auditor'],
  'GET /api/v1/period-closes/:id': ['accountant', 'auditor'],
  'POST /api/v1/period-closes/:id/approve': ['accountant'],
  'POST /api/v1/period-closes/:id/reject': ['accountant'],
  'GET /api/v1/period-closes/:id/certificate.pdf': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/journal': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/accounts/:code/ledger': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/trial-balance': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/general-ledger': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/accounts/:code/detail-ledger': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/ledger/verify': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/audit-bundle.zip': ['accountant', 'auditor'],
  'PUT /api/v1/departments/:id/status': ['accountant', 'department'],
  'GET /api/v1/departments/:id/status-history': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/progress': ['admin', 'accountant', 'auditor', 'inspector'],
  'GET /api/v1/progress/bulletin.pdf': ['accountant', 'auditor'],
  'PUT /api/v1/progress/deadline': ['accountant'],
  'POST /api/v1/departments/:id/written-reports': ['accountant', 'department'],
  'GET /api/v1/departments/:id/written-reports': ['accountant', 'department', 'auditor'],
  'POST /api/v1/written-reports/:id/attachments': ['accountant', 'department'],
  'POST /api/v1/departments/:id/receipts': ['accountant', 'department'],
  'GET /api/v1/receipts': ['accountant', 'department', 'auditor'],
  'GET /api/v1/receipts/:id': ['accountant', 'department', 'auditor'],
  'POST /api/v1/receipts/:id/verify': ['accountant'],
  'POST /api/v1/receipts/:id/reject': ['accountant'],
  'POST /api/v1/receipts/:id/withdraw': ['department'],
  'POST /api/v1/receipts/:id/attachments': ['accountant', 'department'],
  'POST /api/v1/funds/:id/receipts/import': ['accountant'],
  'GET /api/v1/attachments/:id': ['accountant', 'department', 'auditor', 'inspector'],
  'PUT /api/v1/funds/:id/policy': ['accountant'],
  'GET /api/v1/funds/:id/policies': ['accountant', 'auditor'],
  'POST /api/v1/funds/:id/allocation-runs': ['accountant'],
  'GET /api/v1/funds/:id/allocation-runs': ['accountant', 'auditor'],
  'GET /api/v1/allocation-runs/:id': ['accountant', 'auditor'],
  'POST /api/v1/allocation-runs/:id/approve': ['accountant'],
  'POST /api/v1/allocation-runs/:id/cancel': ['accountant'],
  'POST /api/v1/funds/:id/disbursements': ['accountant'],
  'GET /api/v1/funds/:id/disbursements': ['accountant', 'auditor'],
  'POST /api/v1/disbursements/:id/approve': ['accountant'],
  'POST /api/v1/disbursements/:id/cancel': ['accountant'],
  'POST /api/v1/funds/:id/refunds': ['accountant'],
  'GET /api/v1/funds/:id/positions': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/departments/:dept/position': ['accountant', 'department', 'auditor'],
  'GET /api/v1/funds/:id/departments/:dept/statement.pdf': ['accountant', 'department', 'auditor'],
  'GET /api/v1/funds/:id/summary.pdf': ['accountant', 'auditor'],
  'POST /api/v1/funds/:id/statements/bundle': ['accountant', 'auditor'],
  'POST /api/v1/funds/:id/audit-bundle': ['accountant', 'auditor'],
  'GET /api/v1/jobs/:id': ['admin', 'accountant', 'auditor', 'department', 'inspector'],
  'GET /api/v1/jobs/:id/result': ['admin', 'accountant', 'auditor', 'department', 'inspector'],
  'POST /api/v1/statements/verify': ['accountant', 'auditor'],
  'GET /api/v1/statements/:no': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/journal.:format': ['accountant', 'auditor'],
  'GET /api/v1/funds/:id/trial-balance.:format': ['accountant', 'auditor'],
  'GET /api/v1/allocation-runs/:id/lines.:format': ['accountant', 'auditor'],
  // The register, installed base, compliance and inventories.
  'GET /api/v1/software-assets/compliance': ['admin', 'accountant', 'auditor', 'inspector'],
  'GET /api/v1/departments/:id/software-assets': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/departments/:id/software-assets': ['accountant', 'department'],
  'GET /api/v1/departments/:id/software-assets.:format': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/departments/:id/software-register.pdf': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'PUT /api/v1/departments/:id/installed-base': ['accountant', 'department'],
  'GET /api/v1/departments/:id/installed-base': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/software-assets/:id': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/software-assets/:id/attachments': ['accountant', 'department'],
  'POST /api/v1/software-assets/:id/verify': ['accountant'],
  'POST /api/v1/software-assets/:id/reject': ['accountant'],
  'POST /api/v1/software-assets/:id/retire': ['accountant', 'department'],
  'POST /api/v1/departments/:id/inventories': ['accountant', 'department'],
  'GET /api/v1/inventories': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/inventories/:id': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/inventories/:id/accept': ['accountant'],
  'POST /api/v1/inventories/:id/return': ['accountant'],
  // Inspections: the inspector records and decides, a unit answers, accountants claw back; nobody else moves money.
  'POST /api/v1/inspections': ['inspector'],
  'GET /api/v1/inspections': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/inspections/:id': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/inspections/:id/findings': ['inspector'],
  'GET /api/v1/findings': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'GET /api/v1/findings/:id': ['admin', 'accountant', 'department', 'auditor', 'inspector'],
  'POST /api/v1/findings/:id/rectifications': ['department'],
  'POST /api/v1/rectifications/:id/attachments': ['department'],
  'POST /api/v1/findings/:id/close': ['inspector'],
  'POST /api/v1/findings/:id/keep-open': ['inspector'],
  'POST /api/v1/findings/:id/clawback': ['accountant'],
  'GET /api/v1/finding-clawbacks': ['accountant', 'auditor'],
  'POST /api/v1/finding-clawbacks/:id/approve': ['accountant'],
  'POST /api/v1/finding-clawbacks/:id/cancel': ['accountant'],
  'GET /api/v1/progress/escalations': ['admin', 'accountant', 'auditor', 'inspector'],
  'PUT /api/v1/progress/target': ['accountant'],
};

const roles: Role[] = ['admin', 'accountant', 'department', 'auditor', 'inspector'];
let h: Harness;
const users = {} as Record<Role, TestUser>;

beforeAll(async () => {
  h = openHarness();
  const department = await makeDepartment(h.db);
  for (const role of roles) users[role] = await makeUser(h.db, role, role === 'department' ? department.id : null);
});
afterAll(() => h.close());

const specs = allRoutes({
  db: undefined as never,
  config: { tokenTtlHours: 8, uploadMaxBytes: 1, trustProxy: false, dataDir: '/nonexistent' },
  logger: pino({ level: 'silent' }),
}).map((r) => r.spec);
const concrete = (path: string) =>
  path.replace(':id', '999999999').replace(':code', '1011').replace(':dept', '999999999').replace(':format', 'csv').replace(':no', 'NO-SUCH-1');

describe('the access matrix', () => {
  it('has a row for every route, and no row for a route that does not exist', () => {
    const actual = specs.map((s) => `${s.method.toUpperCase()} ${s.path}`).sort();
    expect(actual).toEqual(Object.keys(expected).sort());
  });

  for (const [key, allowed] of Object.entries(expected)) {
    const [method, path] = key.split(' ') as [string, string];
    const call = (headers: Record<string, string>) => {
      const req = h.api[method.toLowerCase() as 'get' | 'post' | 'patch' | 'put'](concrete(path)).set(headers);
      return path.endsWith('/import') ? req.set('Content-Type', 'text/csv').send('code,name,group,status,note\n') : method === 'GET' ? req : req.send({});
    };
    if (allowed === 'public') continue;
    it(`${key}: signed out is 401`, async () => {
      const res = await call({});
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    });
    for (const role of roles) {
      const may = allowed.includes(role);
      it(`${key}: ${role} is ${may ? 'let through' : 'refused with 403'}`, async () => {
        // Signing out revokes the token, so that row gets a user of its own.
        const user = path.endsWith('/logout') ? await makeUser(h.db, role, users[role].departmentId) : users[role];
        const res = await call(user.auth);
        if (may) expect([401, 403]).not.toContain(res.status);
        else expect(res.status).toBe(403);
      });
    }
  }
});
