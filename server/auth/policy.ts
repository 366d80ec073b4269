import { AppError } from '../errors.ts';
import type { Actor, Role } from './roles.ts';

const everyone: Role[] = ['admin', 'accountant', 'department', 'auditor', 'inspector'];

/**
 * The one access policy: role × action. Every route names its action; a route whose action is
 * missing here does not compile. `public` needs no sign-in. Department-owned data is further
 * scoped to the caller's own department by `scope.ts`.
 */
export const permissions = {
  'health.read': 'public',
  'docs.read': 'public',
  'auth.login': 'public',
  'auth.logout': everyone,
  'auth.me': everyone,
  'auth.password': everyone,
  'users.create': ['admin'],
  'users.list': ['admin'],
  'users.update': ['admin'],
  'departments.create': ['admin', 'accountant'],
  'departments.import': ['admin', 'accountant'],
  'departments.list': everyone,
  'departments.read': everyone,
  'departments.update': ['admin', 'accountant'],
  'departments.accept': ['accountant'],
  'audit.read': ['admin', 'auditor'],
  'funds.create': ['accountant'],
  'funds.list': ['admin', 'accountant', 'auditor'],
  'funds.read': ['admin', 'accountant', 'auditor'],
  'ledger.post': ['accountant'],
  'ledger.approve': ['accountant'],
  'periods.close': ['accountant'],
  'periods.read': ['accountant', 'auditor'],
  'ledger.read': ['accountant', 'auditor'],
  'departments.status_write': ['accountant', 'department'],
  'departments.status_read': everyone,
  'progress.read': ['admin', 'accountant', 'auditor', 'inspector'],
  'progress.bulletin': ['accountant', 'auditor'],
  'progress.deadline': ['accountant'],
  'written_reports.file': ['accountant', 'department'],
  'written_reports.read': ['accountant', 'auditor', 'department'],
  'receipts.submit': ['accountant', 'department'],
  'receipts.read': ['accountant', 'auditor', 'department'],
  'receipts.review': ['accountant'],
  'receipts.withdraw': ['department'],
  'receipts.import': ['accountant'],
  'attachments.upload': ['accountant', 'department'],
  'attachments.read': ['accountant', 'auditor', 'department', 'inspector'],
  'allocation.policy': ['accountant'],
  'allocation.read': ['accountant', 'auditor'],
  'allocation.run': ['accountant'],
  'disbursements.write': ['accountant'],
  'disbursements.read': ['accountant', 'auditor'],
  'positions.read': ['accountant', 'auditor', 'department'],
  'statements.department': ['accountant', 'auditor', 'department'],
  'statements.read': ['accountant', 'auditor'],
  'exports.read': ['accountant', 'auditor'],
  // A job is read by whoever asked for it (server/jobs/jobs.ts); every signed-in role may ask to read one.
  'jobs.read': ['admin', 'accountant', 'auditor', 'department', 'inspector'],
  // The register, installed base and inventory (DESIGN.md "Software assets and inspections").
  'assets.read': ['admin', 'accountant', 'auditor', 'department', 'inspector'],
  'assets.write': ['accountant', 'department'],
  'assets.review': ['accountant'],
  'assets.compliance': ['admin', 'accountant', 'auditor', 'inspector'],
  'inventories.file': ['accountant', 'department'],
  'inventories.review': ['accountant'],
  // Inspections: the supervision team records and decides; a unit answers its own findings.
  'inspections.write': ['inspector'],
  'inspections.read': ['admin', 'accountant', 'auditor', 'department', 'inspector'],
  'findings.rectify': ['department'],
  'findings.decide': ['inspector'],
  'clawbacks.write': ['accountant'],
  'progress.escalations': ['admin', 'accountant', 'auditor', 'inspector'],
  'progress.target': ['accountant'],
} as const satisfies Record<string, Role[] | 'public'>;

export type Action = keyof typeof permissions;

export function isPublic(action: Action): boolean {
  return permissions[action] === 'public';
}

export function allows(role: Role, action: Action): boolean {
  const allowed = permissions[action];
  return allowed !== 'public' && (allowed as readonly Role[]).includes(role);
}

export function authorize(actor: Actor | undefined, action: Action): void {
  if (isPublic(action)) return;
  if (!actor) throw new AppError('UNAUTHENTICATED');
  if (!allows(actor.role, action)) throw new AppError('FORBIDDEN', '您的角色不能进行此操作');
}
