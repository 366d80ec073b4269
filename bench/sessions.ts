import { createHash } from 'node:crypto';
import { jiangbuClient } from '../client/index.ts';
import { createFund, readFund } from './service-calls.ts';
import { benchUser, fmt, load, openBench, type BenchEnv } from './support.ts';

/**
 * GET /api/v1/funds/:id with the session cache off (SESSION_CACHE_TTL_MS=0) and on (the default), each on a
 * fresh service and database. Reference: the token lookup the cache saves, as bare SQL from Node on the same
 * database (one connection, sequential) — the most a hit can take off a request.
 */
export async function benchSessions(): Promise<void> {
  for (const [label, ttl] of [
    ['session cache off', '0'],
    ['session cache on (5 s)', '5000'],
  ] as const) {
    const env = await openBench({ SESSION_CACHE_TTL_MS: ttl });
    try {
      await fundReads(env, label);
    } finally {
      await env.close();
    }
  }
}

async function fundReads(env: BenchEnv, label: string) {
  const accountant = await benchUser(env.db, 'accountant', 'bench_sessions_accountant');
  const session = jiangbuClient(env.baseUrl, () => accountant.headers.authorization.slice('Bearer '.length));
  const fund = await createFund(session, { code: 'BENCH-SESSIONS', name: '会话缓存基准', fiscal_year: 2011, document_no: '新财行〔2011〕88号' });
  const fundId = String(fund.id);
  const read = () => readFund(session, fundId).then(() => undefined);
  await load(500, 4, read); // warm-up
  const c1 = await load(3000, 1, read);
  const c16 = await load(8000, 16, read);
  console.log(
    `${label}: GET /api/v1/funds/:id c=1 p50 ${fmt(c1.p50_ms, 2)} ms, p99 ${fmt(c1.p99_ms, 2)} ms; c=16 ${fmt(c16.per_s, 0)} reads/s, p50 ${fmt(c16.p50_ms, 2)} ms, p99 ${fmt(c16.p99_ms, 2)} ms`,
  );
  const hash = createHash('sha256').update(accountant.headers.authorization.slice('Bearer '.length)).digest();
  const lookup = () =>
    env.db
      .raw(
        `SELECT s.id, u.id, u.username, u.role, u.department_id FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled LIMIT 1`,
        [hash],
      )
      .then(() => undefined);
  const bare = await load(3000, 1, lookup);
  console.log(`  reference, the token lookup as bare SQL from Node, c=1: p50 ${fmt(bare.p50_ms, 2)} ms`);
}
