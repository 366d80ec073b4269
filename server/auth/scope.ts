import type { Knex } from 'knex';
import { AppError } from '../errors.ts';
import type { Actor } from './roles.ts';

/**
 * Department-owned data: a department user sees only its own. Every query of such data goes
 * through here, so another department's object is simply not found (404), never forbidden.
 */
export function scopeToOwnDepartment<T extends Knex.QueryBuilder>(query: T, actor: Actor, column: string): T {
  if (actor.role === 'department') query.where(column, actor.departmentId);
  return query;
}

const notFoundWords: Record<string, string> = { department: '没有这个单位', receipt: '没有这张发票' };

export function assertOwnDepartment(actor: Actor, departmentId: string, what = 'department'): void {
  if (actor.role === 'department' && actor.departmentId !== String(departmentId)) {
    throw new AppError('NOT_FOUND', notFoundWords[what] ?? '未找到');
  }
}
