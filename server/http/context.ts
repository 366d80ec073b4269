import type { Request } from 'express';
import type { Actor } from '../auth/roles.ts';
import { AppError } from '../errors.ts';

declare module 'express-serve-static-core' {
  interface Request {
    actor?: Actor;
  }
}

/** Who did it and from where: what the audit log records for every write. */
export interface RequestContext {
  actor: Actor | null;
  requestId: string;
  ip: string;
}

export function contextOf(req: Request): RequestContext {
  return { actor: req.actor ?? null, requestId: String(req.id), ip: req.ip ?? req.socket.remoteAddress ?? 'unknown' };
}

export function actorOf(req: Request): Actor {
  if (!req.actor) throw new AppError('UNAUTHENTICATED');
  return req.actor;
}
