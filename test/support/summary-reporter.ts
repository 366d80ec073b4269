import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node';

/**
 * Ends the run with the plain line CI tools read: "Tests: N passed, N failed[, N skipped]".
 * A file whose setup or hooks failed counts as one failure even when its tests were skipped,
 * and so does each error outside any test, so the line never says "0 failed" for a red run.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const m of modules) {
      let failedHere = 0;
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') failedHere++;
        else counts.skipped++;
      }
      if (m.state() === 'failed' && failedHere === 0) failedHere = 1;
      counts.failed += failedHere;
    }
    counts.failed += errors.length;
    if (reason === 'failed' && counts.failed === 0) counts.failed = 1;
    const skipped = counts.skipped ? `, ${counts.skipped} skipped` : '';
    process.stdout.write(`\nTests: ${counts.passed} passed, ${counts.failed} failed${skipped}\n`);
  }
}
