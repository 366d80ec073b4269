import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { DepartmentStatementModel } from './statement-model.ts';
import { renderDepartmentStatement } from './statement-pdf.ts';

/*
 * A thread that turns statement models into PDF bytes (server/jobs/render-pool.ts): rendering is the
 * CPU-bound half of a bundle, and off the main thread the service keeps answering. Models are plain
 * data (strings), so they cross the thread boundary as they are.
 */
export interface RenderTask {
  id: number;
  model: DepartmentStatementModel;
  issue: { statementNo: string; contentHash: string; issuedAt: string; issuedOn: string };
}

export type RenderAnswer = { id: number; pdf: Uint8Array } | { id: number; error: string };

export interface RenderThreadData {
  nice: number;
}

/**
 * A bundle is background work: this thread may run at a lower priority (JOB_RENDER_NICE), so the main
 * thread and PostgreSQL, answering people, take the cores first and the renderers every cycle they
 * leave. Linux gives each thread its own nice value (/proc/thread-self names this thread's id);
 * elsewhere, or when refused, the thread keeps the process's priority.
 */
function lowerPriority(nice: number): void {
  if (nice <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) setPriority(tid, nice);
  } catch {
    // Not Linux, or no /proc: the thread runs at the process's priority.
  }
}
lowerPriority((workerData as RenderThreadData | undefined)?.nice ?? 0);

parentPort!.on('message', (task: RenderTask) => {
  renderDepartmentStatement(task.model, { ...task.issue, issuedAt: new Date(task.issue.issuedAt) }).then(
    (pdf) => parentPort!.postMessage({ id: task.id, pdf: new Uint8Array(pdf.buffer, pdf.byteOffset, pdf.byteLength) } satisfies RenderAnswer),
    (e: unknown) => parentPort!.postMessage({ id: task.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies RenderAnswer),
  );
});
