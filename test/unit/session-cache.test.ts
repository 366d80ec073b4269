import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionCache } from '../../server/auth/session-cache.ts';
import type { Actor } from '../../server/auth/roles.ts';

/** A cache whose listener is taken as connected (the API tests run the real one against PostgreSQL). */
function listeningCache(ttl_ms: number, entries_max: number): SessionCache {
  const cache = new SessionCache({ ttl_ms, entries_max, connection: async () => ({}), log: { warn: () => undefined } });
  (cache as unknown as { listening: boolean }).listening = true;
  return cache;
}

const actor = (n: number): Actor => ({ id: String(n), username: `u${n}`, role: 'auditor', departmentId: null, sessionId: String(100 + n) });
const later = (ms: number) => new Date(Date.now() + ms);

afterEach(() => vi.useRealTimers());

describe('SessionCache', () => {
  it('keeps at most entries_max sessions, dropping the least recently used', () => {
    const cache = listeningCache(5_000, 2);
    cache.store(cache.ticket(), 'a', { actor: actor(1), expiresAt: later(60_000) });
    cache.store(cache.ticket(), 'b', { actor: actor(2), expiresAt: later(60_000) });
    expect(cache.get('a')?.id).toBe('1'); // a is now the most recent
    cache.store(cache.ticket(), 'c', { actor: actor(3), expiresAt: later(60_000) });
    expect([cache.get('a')?.id, cache.get('b'), cache.get('c')?.id]).toEqual(['1', undefined, '3']);
  });

  it('forgets an entry after its TTL, and never keeps a session past its own expiry', () => {
    vi.useFakeTimers();
    const cache = listeningCache(5_000, 10);
    cache.store(cache.ticket(), 'long', { actor: actor(1), expiresAt: later(60_000) });
    cache.store(cache.ticket(), 'ending', { actor: actor(2), expiresAt: later(1_000) });
    vi.advanceTimersByTime(1_000);
    expect([cache.get('long')?.id, cache.get('ending')]).toEqual(['1', undefined]);
    vi.advanceTimersByTime(4_000);
    expect(cache.get('long')).toBeUndefined();
  });

  it('does not store a lookup that an announcement overtook', () => {
    const cache = listeningCache(5_000, 10);
    const ticket = cache.ticket();
    cache.forget('u:7');
    cache.store(ticket, 'a', { actor: actor(1), expiresAt: later(60_000) });
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts by session, by user, and everything on `*` or an unknown announcement', () => {
    const cache = listeningCache(5_000, 10);
    const fill = () => [1, 2, 3].forEach((n) => cache.store(cache.ticket(), `k${n}`, { actor: actor(n), expiresAt: later(60_000) }));
    fill();
    cache.forget('s:102');
    cache.forget('u:3');
    expect([cache.get('k1')?.id, cache.get('k2'), cache.get('k3')]).toEqual(['1', undefined, undefined]);
    fill();
    cache.forget('*');
    expect(cache.size).toBe(0);
    fill();
    cache.forget('garbled');
    expect(cache.size).toBe(0);
  });
});
