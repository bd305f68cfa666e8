/**
 * CPU time of each thread of a process, from Linux's /proc/<pid>/task: what a process-wide
 * `process.cpuUsage()` cannot split (the serving thread, a worker thread, V8's helper threads).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks a second in /proc's times (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** Thread id → user + system CPU time so far, µs, of process `pid` (this one by default). */
export function threadCpuUs(pid: number | 'self' = 'self'): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // The fields after the command name (which may hold spaces), from field 3 (state) on.
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      out.set(tid, (ticks * 1e6) / TICKS_PER_SECOND);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Each thread's CPU between two `threadCpuUs` readings, µs, busiest first. */
export function threadCpuSince(
  before: ReadonlyMap<string, number>,
  pid: number | 'self' = 'self',
): { tid: string; us: number }[] {
  return [...threadCpuUs(pid)]
    .map(([tid, us]) => ({ tid, us: us - (before.get(tid) ?? 0) }))
    .sort((a, b) => b.us - a.us);
}

/**
 * How long this process's main thread has waited, runnable, for a core so far, ms (the second
 * field of Linux's schedstat); null where /proc has no schedstat. A p99 rests on a few requests;
 * this sums every wake-up's wait, so it shows what other processes cost the serving thread.
 */
export function mainThreadWaitMs(): number | null {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ');
    return Number(fields[1]) / 1e6;
  } catch {
    return null;
  }
}
