import pg from 'pg';
import type { Actor } from './roles.ts';

/** The channel db/migrations/017-session-notify.ts announces on. */
export const sessionChannel = 'jiangbu_sessions';

export interface CachedSession {
  actor: Actor;
  expiresAt: Date;
}

interface Entry extends CachedSession {
  until_ms: number;
}

export interface SessionCacheOptions {
  ttl_ms: number;
  entries_max: number;
  /** The pool's connection settings; the listener opens its own connection with them, outside the pool. */
  connection: () => Promise<pg.ClientConfig>;
  log: { warn(obj: object, msg: string): void };
}

const reconnectDelay_ms = { first: 100, max: 5_000 };

/**
 * Signed-in sessions of this process, kept a few seconds so a request need not look its token up.
 * Safe because it is never trusted blind: entries are used only while the LISTEN connection is up,
 * every announcement (a commit that ended a session or changed a user) evicts at once, and a lookup
 * that raced an announcement or a lost connection is not stored. While the listener is down every
 * request goes to the database. Several instances on one database each keep their own cache; the
 * announcement reaches all of them.
 */
export class SessionCache {
  /** Map order is recency: a hit moves its entry to the end, the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every announcement and every loss of the listener: a lookup begun before it is not stored. */
  private generation = 0;
  private client: pg.Client | undefined;
  private listening = false;
  private stopped = false;
  private delay_ms = reconnectDelay_ms.first;
  private timer: NodeJS.Timeout | undefined;
  /** With several hosts (db/multi-host.ts): true once the pool has chosen another host than the listener's. */
  private moved: (() => boolean) | undefined;

  constructor(private readonly options: SessionCacheOptions) {}

  /** Connects the listener (and keeps reconnecting); resolves once the first attempt has settled. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.lost();
    await this.client?.end().catch(() => undefined);
  }

  get isListening(): boolean {
    return this.listening;
  }

  /** The process id of the listener's backend (for tests that cut it). */
  get listenerPid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  get(key: string): Actor | undefined {
    if (!this.listening) return undefined;
    // After a failover the old host hears nothing of new commits: follow the pool there before trusting anything.
    if (this.moved?.()) {
      this.client?.end().catch(() => undefined);
      this.lost();
      return undefined;
    }
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.until_ms <= Date.now()) return undefined;
    this.entries.set(key, entry);
    return entry.actor;
  }

  /** A ticket taken before the lookup; `store` keeps the result only if nothing was announced since. */
  ticket(): number {
    return this.listening ? this.generation : -1;
  }

  store(ticket: number, key: string, found: CachedSession): void {
    if (!this.listening || ticket !== this.generation) return;
    const until_ms = Math.min(Date.now() + this.options.ttl_ms, found.expiresAt.getTime());
    if (until_ms <= Date.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { ...found, until_ms });
    while (this.entries.size > this.options.entries_max) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  /** An announcement: `s:<session id>`, `u:<user id>` or `*`. Anything else forgets everything. */
  forget(payload: string): void {
    this.generation++;
    const m = /^([su]):(\d+)$/.exec(payload);
    if (!m) return this.entries.clear();
    for (const [key, entry] of this.entries) {
      if (m[1] === 's' ? entry.actor.sessionId === m[2] : entry.actor.id === m[2]) this.entries.delete(key);
    }
  }

  private lost(): void {
    this.listening = false;
    this.generation++;
    this.entries.clear();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { expirationChecker, ...settings } = (await this.options.connection().catch(() => ({}))) as pg.ClientConfig & { expirationChecker?: () => boolean };
    const client = new pg.Client({ ...settings, application_name: 'jiangbu-session-listener' });
    this.client = client;
    this.moved = expirationChecker;
    const dropped = (e?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.lost();
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.options.log.warn({ err: e?.message }, 'session listener lost; signed-in sessions are looked up in the database until it is back');
      this.timer = setTimeout(() => void this.connect(), this.delay_ms);
      this.timer.unref();
      this.delay_ms = Math.min(this.delay_ms * 2, reconnectDelay_ms.max);
    };
    client.on('error', dropped);
    client.on('end', () => dropped());
    client.on('notification', (n) => {
      if (n.channel === sessionChannel) this.forget(n.payload ?? '*');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${sessionChannel}`);
    } catch (e) {
      return dropped(e as Error);
    }
    if (this.client !== client || this.stopped) return;
    this.delay_ms = reconnectDelay_ms.first;
    this.listening = true;
  }
}
