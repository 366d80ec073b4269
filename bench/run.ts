// `npm run bench`: seeds its own database and prints figures. Not a test: nothing here passes or fails.
import { benchAllocation } from './allocation.ts';
import { benchAllocationScale } from './allocation-scale.ts';
import { benchBundle } from './bundle.ts';
import { benchLedger } from './ledger.ts';
import { benchScale } from './scale.ts';
import { benchSessions } from './sessions.ts';
import { benchStatements } from './statements.ts';
import { openBench, type BenchEnv } from './support.ts';
import { benchVerify } from './verify.ts';

const parts = {
  ledger: benchLedger,
  allocation: benchAllocation,
  statements: benchStatements,
  verify: benchVerify,
  scale: benchScale,
  'allocation-scale': benchAllocationScale,
  bundle: benchBundle,
  sessions: benchSessions,
};
const only = process.argv[2] as keyof typeof parts | undefined;
console.log(`# Jiangbu benchmarks (${new Date().toISOString()}, ${process.env.DATABASE_URL ? 'DATABASE_URL server' : 'embedded PostgreSQL'})`);
// Each part gets a database and a service of its own, so one part's data never weighs on another's figures.
// The province-sized parts (minutes each) run only when named.
const onlyWhenNamed = new Set(['scale', 'allocation-scale', 'bundle', 'sessions']);
for (const [name, run] of Object.entries(parts)) {
  if (only ? only !== name : onlyWhenNamed.has(name)) continue;
  // The sessions part compares two services of its own (session cache off and on).
  if (name === 'sessions') {
    await benchSessions();
    continue;
  }
  const env = await openBench();
  try {
    await (run as (env: BenchEnv) => Promise<void>)(env);
  } finally {
    await env.close();
  }
}
