import { describe, expect, inject, it } from 'vitest';
import { createKnex } from '../../db/connection.ts';
import { editDatabaseUrl, hostChooser, parseDatabaseUrl, splitHosts, suits, targetSessionAttrsOf } from '../../db/multi-host.ts';
import { userOf, withCredentials } from '../../db/roles.ts';
import { AppError } from '../../server/errors.ts';
import { translateDbError } from '../../server/db/translate-error.ts';
import { redactUrl } from '../../server/startup-error.ts';
import { freePort } from '../support/global-setup.ts';

/*
 * A multi-host DATABASE_URL (docs/ha.md): node-postgres reads one host, so the service chooses, in order,
 * the first host whose session suits target_session_attrs, as libpq does, and says 503 (never 500,
 * never a hang) when none does.
 */
const ha = 'postgres://jiangbu:s%40cret@10.0.0.1:5432,10.0.0.2:5433/jiangbu?target_session_attrs=read-write&sslmode=require';

describe('a URL with several hosts', () => {
  it('is read host by host, and its user, password and database are edited without losing a host', () => {
    expect(splitHosts(ha).hosts).toEqual(['10.0.0.1:5432', '10.0.0.2:5433']);
    expect(parseDatabaseUrl(ha).pathname).toBe('/jiangbu');
    expect(userOf(ha)).toBe('jiangbu');
    expect(targetSessionAttrsOf(ha)).toBe('read-write');
    expect(withCredentials(ha, 'jiangbu_app', 'pw')).toBe(
      'postgres://jiangbu_app:pw@10.0.0.1:5432,10.0.0.2:5433/jiangbu?target_session_attrs=read-write&sslmode=require',
    );
    expect(redactUrl(ha)).toBe('postgres://jiangbu:***@10.0.0.1:5432,10.0.0.2:5433/jiangbu?target_session_attrs=read-write&sslmode=require');
    expect(editDatabaseUrl('postgres://u@h:1/db', (u) => (u.pathname = '/other'))).toBe('postgres://u@h:1/other');
    expect(() => targetSessionAttrsOf('postgres://u@h/db?target_session_attrs=writable')).toThrow(/not one of/);
  });

  it('suits target_session_attrs as libpq does', () => {
    const primary = { inRecovery: false, readOnly: false };
    const standby = { inRecovery: true, readOnly: true };
    expect([suits('read-write', primary), suits('read-write', standby)]).toEqual([true, false]);
    expect([suits('primary', primary), suits('primary', standby)]).toEqual([true, false]);
    expect([suits('standby', primary), suits('standby', standby)]).toEqual([false, true]);
    expect([suits('read-only', primary), suits('read-only', standby)]).toEqual([false, true]);
    expect(suits('any', standby)).toBe(true);
  });
});

describe('choosing the host', () => {
  const live = new URL(inject('serverUrl'));
  // The login as the suite's server takes it: with its password on the embedded default, without on a trust server.
  const login = live.password ? `${live.username}:${live.password}` : live.username;
  const hostsUrl = async (want: string) => {
    const dead = `127.0.0.1:${await freePort()}`;
    return `postgres://${login}@${dead},${live.host}/postgres?target_session_attrs=${want}`;
  };

  it('passes over a host that refuses and connects to the first that is read-write; the pool works through it', async () => {
    const url = await hostsUrl('read-write');
    expect(await hostChooser(url).pick()).toBe(`postgres://${login}@${live.host}/postgres`);
    const db = createKnex(url, 2, 10_000);
    try {
      const { rows } = await db.raw('SELECT current_setting($$transaction_read_only$$) AS ro, inet_server_port() AS port');
      expect(rows[0]).toEqual({ ro: 'off', port: Number(live.port || 5432) });
    } finally {
      await db.destroy();
    }
  });

  it('with no host that suits (a standby asked for, only a primary there), a query fails as 503 UNAVAILABLE with Retry-After', async () => {
    const db = createKnex(await hostsUrl('standby'), 2, 10_000);
    try {
      const e = translateDbError(await db.raw('SELECT 1').catch((err: unknown) => err));
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('UNAVAILABLE');
      expect((e as AppError).headers).toEqual({ 'Retry-After': '5' });
    } finally {
      await db.destroy();
    }
  });

  it('a read-only transaction where a write was meant (the connection is on a standby now) is 503, not 500', () => {
    const e = translateDbError(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }));
    expect((e as AppError).code).toBe('UNAVAILABLE');
  });
});
