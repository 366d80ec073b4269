import { parentPort } from 'node:worker_threads';
import type { DepartmentStatementModel } from './statement-model.ts';
import { renderDepartmentStatement } from './statement-pdf.ts';

/*
 * A thread that turns statement models into PDF bytes (server/jobs/render-pool.ts): rendering is the
 * CPU-bound half of a bundle (~45 ms a unit), and off the main thread the service keeps answering.
 * Models are plain data (strings), so they cross the thread boundary as they are.
 */
export interface RenderTask {
  id: number;
  model: DepartmentStatementModel;
  issue: { statementNo: string; contentHash: string; issuedAt: string; issuedOn: string };
}

export type RenderAnswer = { id: number; pdf: Uint8Array } | { id: number; error: string };

parentPort!.on('message', (task: RenderTask) => {
  renderDepartmentStatement(task.model, { ...task.issue, issuedAt: new Date(task.issue.issuedAt) }).then(
    (pdf) => parentPort!.postMessage({ id: task.id, pdf: new Uint8Array(pdf.buffer, pdf.byteOffset, pdf.byteLength) } satisfies RenderAnswer),
    (e: unknown) => parentPort!.postMessage({ id: task.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies RenderAnswer),
  );
});
