import { readdir, readFile } from 'node:fs/promises';
import type { Knex } from 'knex';

/*
 * CPU time rather than wall time: the bench machine is shared, so seconds on the clock say as much
 * about the neighbours as about the code. Linux only (/proc), in clock ticks (usually 10 ms).
 */
const tick_ms = 10;

/** utime + stime of a task's /proc stat line, in ms. */
async function cpuOfStat(path: string): Promise<number | undefined> {
  try {
    const stat = await readFile(path, 'utf8');
    // Fields after the command name (which may hold spaces): state is the 3rd field, utime the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * tick_ms;
  } catch {
    return undefined; // the task ended
  }
}

/** A process's CPU time split into its main thread (whose id is the process's) and every other thread (workers, GC, I/O). */
export async function processCpu(pid: number): Promise<{ main_ms: number; others_ms: number }> {
  let main_ms = 0;
  let others_ms = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const ms = (await cpuOfStat(`/proc/${pid}/task/${tid}/stat`)) ?? 0;
    if (Number(tid) === pid) main_ms = ms;
    else others_ms += ms;
  }
  return { main_ms, others_ms };
}

/**
 * The CPU time PostgreSQL's client sessions spend for one database (not autovacuum, not the session
 * that samples), sampled: a backend seen for the first time after `start` counts from zero (it was
 * opened during the run); one that ends keeps its last sample.
 */
export function databaseCpu(db: Knex, database: string) {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  async function sample() {
    const pids = (
      await db.raw("SELECT pid FROM pg_stat_activity WHERE datname = ? AND backend_type = 'client backend' AND pid <> pg_backend_pid()", [database])
    ).rows.map((r: { pid: number }) => r.pid);
    for (const pid of pids) {
      const ms = await cpuOfStat(`/proc/${pid}/stat`);
      if (ms === undefined) continue;
      if (!first.has(pid)) first.set(pid, started ? 0 : ms);
      last.set(pid, ms);
    }
  }
  return {
    async start() {
      await sample();
      started = true;
    },
    sample,
    total_ms: () => [...last].reduce((s, [pid, ms]) => s + ms - (first.get(pid) ?? 0), 0),
  };
}
