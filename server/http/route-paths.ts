import type { RequestHandler } from 'express';
import { AppError } from '../errors.ts';
import type { Route } from './route.ts';

/*
 * Which declared path a request path belongs to, independent of its method: a fixed segment wins over a
 * `:param` at the same place (`/statements/verify` is never statement number "verify"). With that, a
 * known path with another method answers 405 and names the methods it has.
 */
/** A path segment as a pattern, ranked: fixed (0) beats fixed with a parameter such as `journal.:format` (1) beats a bare `:param` (2). */
interface Segment {
  pattern: RegExp;
  rank: number;
}

function segmentsOf(path: string): Segment[] {
  return path
    .split('/')
    .filter(Boolean)
    .map((s) => {
      if (!s.includes(':')) return { pattern: new RegExp(`^${escape(s)}$`), rank: 0 };
      const source = s
        .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
        .map((piece) => (piece.startsWith(':') ? '[^/]+?' : escape(piece)))
        .join('');
      return { pattern: new RegExp(`^${source}$`), rank: s.startsWith(':') && !s.slice(1).match(/[^A-Za-z0-9_]/) ? 2 : 1 };
    });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function matches(pattern: Segment[], parts: string[]): boolean {
  return pattern.length === parts.length && pattern.every((s, i) => s.pattern.test(parts[i]!));
}

/** Negative when `a` is more specific than `b`: the first place where their ranks differ decides. */
function bySpecificity(a: Segment[], b: Segment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = a[i]!.rank - b[i]!.rank;
    if (d !== 0) return d;
  }
  return 0;
}

export interface PathTable {
  /** The declared path that a request path belongs to, or undefined. */
  resolve(requestPath: string): string | undefined;
  /** The methods declared for a path, upper case. */
  methods(path: string): string[];
}

export function pathTable(routes: Route[]): PathTable {
  const methods = new Map<string, Set<string>>();
  for (const r of routes) {
    const set = methods.get(r.spec.path) ?? new Set<string>();
    set.add(r.spec.method.toUpperCase());
    if (r.spec.method === 'get') set.add('HEAD');
    methods.set(r.spec.path, set);
  }
  const patterns = [...methods.keys()].map((path) => ({ path, segments: segmentsOf(path) })).sort((a, b) => bySpecificity(a.segments, b.segments));
  return {
    resolve(requestPath) {
      // An empty segment (`/funds//accounts`) matches no declared path, as in Express; a trailing slash is the same path.
      const parts = requestPath
        .replace(/^\//, '')
        .replace(/\/$/, '')
        .split('/')
        .map((p) => {
          try {
            return decodeURIComponent(p);
          } catch {
            return p;
          }
        });
      return patterns.find((p) => matches(p.segments, parts))?.path;
    },
    methods: (path) => [...(methods.get(path) ?? [])],
  };
}

/** Lets a `:param` route run only when no more specific declared path claims the request. */
export function onlyIfBestMatch(table: PathTable, path: string): RequestHandler {
  return (req, _res, next) => (table.resolve(req.path) === path ? next() : next('route'));
}

/** After every route: a declared path asked with a method it does not have answers 405 with `Allow`. */
export function methodNotAllowed(table: PathTable): RequestHandler {
  return (req, res, next) => {
    const path = table.resolve(req.path);
    if (!path) return next();
    const allow = table.methods(path).join(', ');
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') return void res.status(204).end();
    throw new AppError('METHOD_NOT_ALLOWED', `此地址不支持 ${req.method} 请求，可用的方法：${allow}`);
  };
}
