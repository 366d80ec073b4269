export const roles = ['admin', 'accountant', 'department', 'auditor', 'inspector'] as const;
export type Role = (typeof roles)[number];

/** Who is making a request, as established by the bearer token. */
export interface Actor {
  id: string;
  username: string;
  role: Role;
  departmentId: string | null;
  sessionId: string;
}
