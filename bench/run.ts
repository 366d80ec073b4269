// `npm run bench`: seeds its own database and prints figures. Not a test: nothing here passes or fails.
import { benchAllocation } from './allocation.ts';
import { benchLedger } from './ledger.ts';
import { benchScale } from './scale.ts';
import { benchStatements } from './statements.ts';
import { openBench } from './support.ts';
import { benchVerify } from './verify.ts';

const parts = { ledger: benchLedger, allocation: benchAllocation, statements: benchStatements, verify: benchVerify, scale: benchScale };
const only = process.argv[2] as keyof typeof parts | undefined;
console.log(`# Jiangbu benchmarks (${new Date().toISOString()}, ${process.env.DATABASE_URL ? 'DATABASE_URL server' : 'embedded PostgreSQL'})`);
// Each part gets a database and a service of its own, so one part's data never weighs on another's figures.
for (const [name, run] of Object.entries(parts)) {
  if (only ? only !== name : name === 'scale') continue;
  const env = await openBench();
  try {
    await run(env);
  } finally {
    await env.close();
  }
}
