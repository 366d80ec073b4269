import { defineConfig } from 'vitest/config';

// `npm run test:failover`: a pg_auto_failover formation killed under load (test/failover, docs/ha.md).
// Run through scripts/ha/failover-test.sh, which tears the formation down whatever happens.
export default defineConfig({
  test: {
    include: ['test/failover/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
