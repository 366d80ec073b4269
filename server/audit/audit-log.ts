import type { Knex } from 'knex';
import type { RequestContext } from '../http/context.ts';
import { pageOf } from '../db/pagination.ts';

export interface AuditEvent {
  action: string;
  objectType?: string;
  objectId?: string | number | null;
  before?: unknown;
  after?: unknown;
}

/** Appends one event, inside the caller's transaction so the event and the change commit together. */
export async function recordAudit(db: Knex, ctx: RequestContext, event: AuditEvent): Promise<void> {
  await recordAudits(db, ctx, [event]);
}

/** Appends several events of one request in one insert (a bundle's chunk of statements), in their order. */
export async function recordAudits(db: Knex, ctx: RequestContext, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db('audit_log').insert(
    events.map((event) => ({
      actor_id: ctx.actor?.id ?? null,
      actor_username: ctx.actor?.username ?? null,
      actor_role: ctx.actor?.role ?? null,
      action: event.action,
      object_type: event.objectType ?? null,
      object_id: event.objectId == null ? null : String(event.objectId),
      request_id: ctx.requestId,
      ip: ctx.ip,
      before: event.before === undefined ? null : JSON.stringify(event.before),
      after: event.after === undefined ? null : JSON.stringify(event.after),
    })),
  );
}

export interface AuditFilter {
  actor_id?: string;
  /** Part of the user name, any case: people look a user up by name, not by number. */
  actor_name?: string;
  action?: string;
  object_type?: string;
  object_id?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export async function listAudit(db: Knex, f: AuditFilter) {
  const limit = f.limit ?? 100;
  const q = db('audit_log')
    .orderBy('id', 'desc')
    .limit(limit + 1);
  if (f.actor_id) q.where('actor_id', f.actor_id);
  if (f.actor_name) q.whereRaw("lower(actor_username) LIKE '%' || ? || '%' ESCAPE '\\'", [f.actor_name.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)]);
  if (f.action) q.where('action', f.action);
  if (f.object_type) q.where('object_type', f.object_type);
  if (f.object_id) q.where('object_id', f.object_id);
  if (f.from) q.where('at', '>=', f.from);
  if (f.to) q.where('at', '<', f.to);
  if (f.cursor) q.where('id', '<', f.cursor);
  return pageOf(await q, limit, (e) => e.id);
}
