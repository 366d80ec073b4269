import { Worker } from 'node:worker_threads';
import type { DepartmentStatementModel } from '../../reports/statement-model.ts';
import type { Issue } from '../../reports/statement-pdf.ts';
import type { RenderAnswer, RenderTask, RenderThreadData } from '../../reports/render-worker.ts';

/*
 * A few threads that render statements for jobs. The sources run through tsx in development and tests
 * (the worker is a .ts file and needs tsx's loader) and as compiled JavaScript under `npm start`: the
 * worker's file is the sibling of this module's own, with the same extension.
 */
const fromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`../../reports/render-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url);
// From the sources, the worker first registers tsx's loader in its own thread (a parent's --import does not reach it in every runner, vitest's included).
/*
 * Each thread's JavaScript heap is capped: left alone, V8 lets a renderer's heap grow to ~170 MB over a
 * few hundred PDFs (each drawing allocates megabytes that live until its end), and two of them took the
 * service past 500 MiB during a 5,000-unit bundle. What a thread keeps (parsed fonts, shaping) is ~50 MB;
 * at 128 MB it collects more often (~15% more CPU) and stays there. A thread that dies anyway (out of
 * memory) gives its task to a new one, once.
 */
const heap_mb = 128;
const newWorker = (workerData: RenderThreadData) => {
  const options = { workerData, resourceLimits: { maxOldGenerationSizeMb: heap_mb } };
  return fromSources
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`, { eval: true, ...options })
    : new Worker(workerUrl, options);
};

export interface RenderPool {
  render(model: DepartmentStatementModel, issue: Issue): Promise<Buffer>;
  close(): Promise<void>;
}

interface Pending {
  task: RenderTask;
  /** Threads that died with this task in hand. */
  lost: number;
  resolve: (pdf: Buffer) => void;
  reject: (e: Error) => void;
}

/** `threads` threads at most, started when there is work, each at nice `nice` (render-worker.ts). */
export function createRenderPool(threads: number, nice = 0): RenderPool {
  const idle: Worker[] = [];
  const busy = new Map<Worker, Pending>();
  const queue: Pending[] = [];
  let started = 0;
  let nextId = 1;
  let closed = false;

  function spawn(): Worker {
    started++;
    const w = newWorker({ nice });
    w.on('message', (a: RenderAnswer) => {
      const p = busy.get(w);
      busy.delete(w);
      if (p) {
        if ('pdf' in a) p.resolve(Buffer.from(a.pdf.buffer, a.pdf.byteOffset, a.pdf.byteLength));
        else p.reject(new Error(`rendering a statement failed: ${a.error}`));
      }
      idle.push(w);
      pump();
    });
    // A thread that dies takes its one task with it; the next task gets a new thread.
    let gone = false;
    const lost = (e: Error) => {
      // 'error' is followed by 'exit': the thread is counted out once.
      if (gone) return;
      gone = true;
      const p = busy.get(w);
      busy.delete(w);
      const at = idle.indexOf(w);
      if (at >= 0) idle.splice(at, 1);
      started--;
      if (p && p.lost++ === 0 && !closed) queue.unshift(p);
      else p?.reject(e);
      pump();
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`render thread exited (${code})`)));
    return w;
  }

  function pump(): void {
    while (!closed && queue.length > 0) {
      const w = idle.pop() ?? (started < threads ? spawn() : undefined);
      if (!w) return;
      const p = queue.shift()!;
      busy.set(w, p);
      w.postMessage(p.task);
    }
  }

  return {
    render(model, issue) {
      if (closed) return Promise.reject(new Error('the render pool is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ task: { id: nextId++, model, issue: { ...issue, issuedAt: issue.issuedAt.toISOString() } }, lost: 0, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const p of queue.splice(0)) p.reject(new Error('the render pool is closed'));
      const all = [...idle, ...busy.keys()];
      idle.length = 0;
      await Promise.all(all.map((w) => w.terminate()));
    },
  };
}
