// `npm run bench`: seeds its own database and prints figures. Not a test: nothing here passes or fails.
import { benchAllocation } from './allocation.ts';
import { benchLedger } from './ledger.ts';
import { benchStatements } from './statements.ts';
import { openBench } from './support.ts';

const env = await openBench();
try {
  console.log(`# Jiangbu benchmarks (${new Date().toISOString()}, ${process.env.DATABASE_URL ? 'DATABASE_URL server' : 'embedded PostgreSQL'})`);
  const only = process.argv[2];
  if (!only || only === 'ledger') await benchLedger(env);
  if (!only || only === 'allocation') await benchAllocation(env);
  if (!only || only === 'statements') await benchStatements(env);
} finally {
  await env.close();
}
