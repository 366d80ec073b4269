import pg from 'pg';

/*
 * A DATABASE_URL may name several hosts, as libpq allows: postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write
 * (the primary and the standby of a pg_auto_failover formation, docs/ha.md). node-postgres reads one host
 * only, so the choice is made here: the hosts are tried in order and the first whose session suits
 * target_session_attrs is used, as libpq does. The choice is kept until a connection fails or finds
 * itself on a standby; then it is made again, and the pool drops every connection to the old host
 * (db/connection.ts), so the service follows a failover by itself.
 */
export type TargetSessionAttrs = 'any' | 'read-write' | 'primary' | 'read-only' | 'standby' | 'prefer-standby';
const attrs: TargetSessionAttrs[] = ['any', 'read-write', 'primary', 'read-only', 'standby', 'prefer-standby'];

const shape = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/;

/** The URL's parts around its host list. */
export function splitHosts(url: string): { hosts: string[]; withHost(host: string): string } {
  const m = shape.exec(url);
  if (!m) return { hosts: [], withHost: () => url };
  const [, scheme, auth = '', hostList = '', rest = ''] = m;
  return { hosts: hostList.split(',').filter(Boolean), withHost: (host) => `${scheme}${auth}${host}${rest}` };
}

/** The URL as the WHATWG parser reads it (which refuses host lists): the first host stands for all. */
export function parseDatabaseUrl(url: string): URL {
  const { hosts, withHost } = splitHosts(url);
  return new URL(hosts.length > 1 ? withHost(hosts[0]!) : url);
}

/** Changes a database URL (its user, password, database) and keeps its host list. */
export function editDatabaseUrl(url: string, edit: (u: URL) => void): string {
  const { hosts } = splitHosts(url);
  const u = parseDatabaseUrl(url);
  edit(u);
  const edited = u.toString();
  return hosts.length > 1 ? splitHosts(edited).withHost(hosts.join(',')) : edited;
}

export function targetSessionAttrsOf(url: string): TargetSessionAttrs {
  const value = parseDatabaseUrl(url).searchParams.get('target_session_attrs') ?? 'any';
  if (!attrs.includes(value as TargetSessionAttrs)) throw new Error(`target_session_attrs=${value} is not one of ${attrs.join(', ')}`);
  return value as TargetSessionAttrs;
}

/** One host's URL without target_session_attrs, which node-postgres would pass on to the server as a setting. */
function singleHostUrl(url: string, host: string): string {
  const one = splitHosts(url).withHost(host);
  const u = new URL(one);
  u.searchParams.delete('target_session_attrs');
  return u.toString();
}

export interface SessionState {
  inRecovery: boolean;
  readOnly: boolean;
}

export function suits(want: TargetSessionAttrs, s: SessionState): boolean {
  switch (want) {
    case 'any':
    case 'prefer-standby':
      return true;
    case 'read-write':
      return !s.readOnly;
    case 'primary':
      return !s.inRecovery;
    case 'read-only':
      return s.readOnly;
    case 'standby':
      return s.inRecovery;
  }
}

export async function sessionState(client: { query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> }): Promise<SessionState> {
  const { rows } = await client.query(`SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only`);
  return { inRecovery: rows[0]!.in_recovery === true, readOnly: rows[0]!.read_only === 'on' };
}

/** An error the service reads as "the database is not there for us right now" (503, server/db/translate-error.ts). */
export function noSuitableHost(detail: string): Error {
  return Object.assign(new Error(`no database host suits: ${detail}`), { code: '08001' });
}

export interface HostChooser {
  /** The URL of the host to connect to now. */
  pick(): Promise<string>;
  /** The chosen host failed or is no longer what was asked for: choose again next time. */
  forget(): void;
  /** The URL chosen last, until it is forgotten. */
  current(): string | undefined;
  readonly want: TargetSessionAttrs;
}

const probeTimeout_ms = 3_000;

export function hostChooser(url: string): HostChooser {
  const { hosts } = splitHosts(url);
  const want = targetSessionAttrsOf(url);
  let chosen: string | undefined;
  let probing: Promise<string> | undefined;

  async function probe(): Promise<string> {
    const problems: string[] = [];
    let fallback: string | undefined;
    for (const host of hosts) {
      const candidate = singleHostUrl(url, host);
      const client = new pg.Client({ connectionString: candidate, connectionTimeoutMillis: probeTimeout_ms, application_name: 'jiangbu-probe' });
      // A host that dies mid-probe must not take the process with it.
      client.on('error', () => undefined);
      try {
        await client.connect();
        const state = await sessionState(client);
        if (want === 'prefer-standby' && !state.inRecovery) {
          fallback ??= candidate;
          continue;
        }
        if (suits(want, state)) return candidate;
        problems.push(`${host} is ${state.inRecovery ? 'a standby' : state.readOnly ? 'read-only' : 'read-write'}`);
      } catch (e) {
        problems.push(`${host}: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (fallback) return fallback;
    throw noSuitableHost(`target_session_attrs=${want}; ${problems.join('; ')}`);
  }

  return {
    want,
    async pick() {
      if (hosts.length <= 1 && want === 'any') return url;
      if (chosen) return chosen;
      probing ??= probe().finally(() => (probing = undefined));
      chosen = await probing;
      return chosen;
    },
    forget() {
      chosen = undefined;
    },
    current: () => chosen,
  };
}
