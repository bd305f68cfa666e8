/**
 * Runs a job's CPU-bound body as a `shelf` command in a child process, off the event loop of the
 * process that serves requests or renews BullMQ locks. The child opens the same store and data
 * dir (the config's variables), writes `{"progress":{stage,percent}}` lines while it runs and its
 * result as the last line of stdout. It ends when its parent does: it watches its stdin, which
 * the parent holds open. An abort of the job ends it with SIGTERM.
 *
 * The child runs at a lower CPU priority, its threads and its own children too, so that on a
 * machine that also serves a train job slows down rather than the answers (`JobPriority`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobSpawner } from './job-spawner.ts';
import type { JobContext } from './job-types.ts';

const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
/** Of the child's stderr, the tail kept for a failure's message. */
const STDERR_TAIL = 4000;
/** A `low` job child's niceness (never above this process's own priority). */
export const JOB_NICENESS = 10;

/**
 * How a job child shares the CPU with the process that serves (`SHELF_JOB_PRIORITY`):
 * - `idle` (the default; Linux's SCHED_IDLE, set through util-linux's `chrt` before node
 *   starts, so every thread and child inherits it): the job runs on what the serving process
 *   leaves, and a waking request thread takes the core from it at once. Under a nice value the
 *   kernel lets the running job finish its slice first: with a train and a segments job at
 *   niceness 10, the serving thread waited for a core 21–82 ms a second more than with no job
 *   at a fixed rate, and 390–410 ms a second at full load; at SCHED_IDLE −21 to +10 ms, and
 *   240–290 (jobs bench, which prints that wait; 3 alternated pairs). Where nothing else wants
 *   a core it runs as fast as at any priority; a machine kept busy around the clock by other
 *   work never finishes it. Without `chrt` (not Linux), niceness 19.
 * - `low`: niceness 10. The scheduler shares a contended core out by weight, so the job still
 *   gets about a tenth of it: for a machine that is never idle.
 * - `normal`: this process's own priority (a machine that only runs jobs).
 */
export type JobPriority = 'idle' | 'low' | 'normal';
export const JOB_PRIORITIES: readonly JobPriority[] = ['idle', 'low', 'normal'];

/** `chrt`'s path when it is on PATH (looked for once). */
let chrtPath: string | null | undefined;
function chrt(): string | null {
  chrtPath ??=
    (process.platform === 'linux' &&
      (process.env.PATH ?? '')
        .split(delimiter)
        .map((dir) => join(dir, 'chrt'))
        .find((path) => existsSync(path))) ||
    null;
  return chrtPath;
}

/** What a job child is started with: the config's variables (config.ts `childEnv`) and its priority. */
export interface JobChildSpec {
  env: Readonly<Record<string, string>>;
  priority: JobPriority;
  /** Who starts it: a helper process (job-spawner.ts), or this process when unset. */
  spawner?: Pick<JobSpawner, 'start'>;
}

/** A running job child as `runChildJob` reads it: started here, or by the spawner's helper. */
export interface JobChild {
  readonly stdout: { on(event: 'data', f: (chunk: Buffer | string) => void): unknown };
  readonly stderr: { on(event: 'data', f: (chunk: Buffer | string) => void): unknown };
  once(event: 'error', f: (err: Error) => void): unknown;
  once(event: 'close', f: (code: number | null) => void): unknown;
  kill(signal?: NodeJS.Signals): boolean;
}

/** Starts `shelf ...args` with `spec.env` added, at `spec.priority`. */
export function startJobChild(args: readonly string[], spec: JobChildSpec): ChildProcessWithoutNullStreams {
  const options = { env: { ...process.env, ...spec.env }, stdio: 'pipe' as const };
  const idleBy = spec.priority === 'idle' ? chrt() : null;
  // Set before `node` starts (chrt execs it): every thread and child it makes inherits the policy.
  const child = idleBy
    ? spawn(idleBy, ['--idle', '0', process.execPath, BIN, ...args], options)
    : spawn(process.execPath, [BIN, ...args], options);
  const niceness = spec.priority === 'low' ? JOB_NICENESS : spec.priority === 'idle' && !idleBy ? 19 : null;
  if (niceness !== null && child.pid !== undefined) {
    try {
      setPriority(child.pid, Math.max(getPriority(), niceness));
    } catch {
      // Not permitted here (a container's limits): the job runs at this process's priority.
    }
  }
  // The parent never writes: stdin stays open until this process ends.
  child.stdin.on('error', () => {});
  return child;
}

export interface ChildJobResult {
  /** The child's exit code. */
  code: number | null;
  /** Its last stdout line, parsed (null when it was not JSON). */
  last: unknown;
  /** The tail of its stderr (a failure's reason). */
  stderr: string;
}

/** Runs `shelf ...args` as `spec` says; progress lines go to `ctx.progress`. */
export function runChildJob(
  args: readonly string[],
  spec: JobChildSpec,
  ctx: Pick<JobContext, 'progress' | 'signal'>,
): Promise<ChildJobResult> {
  return new Promise<ChildJobResult>((resolve, reject) => {
    if (ctx.signal.aborted) return reject(abortReason(ctx.signal));
    const child = spec.spawner ? spec.spawner.start(args, spec) : startJobChild(args, spec);
    const onAbort = () => child.kill('SIGTERM');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let pending = '';
    let last: unknown = null;
    let err = '';
    const line = (text: string) => {
      if (!text.trim()) return;
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: not a progress line, and not a result either.
      }
      const p = (parsed as { progress?: { stage?: unknown; percent?: unknown } } | null)?.progress;
      if (p && typeof p.stage === 'string' && typeof p.percent === 'number') ctx.progress(p.stage, p.percent);
      else last = parsed;
    };
    child.stdout.on('data', (d) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) line(l);
    });
    child.stderr.on('data', (d) => (err = (err + d.toString()).slice(-STDERR_TAIL)));
    child.once('error', reject);
    child.once('close', (code) => {
      ctx.signal.removeEventListener('abort', onAbort);
      line(pending);
      if (ctx.signal.aborted) return reject(abortReason(ctx.signal));
      resolve({ code, last, stderr: reasonOf(err) });
    });
  });
}

/**
 * A failed child's reason from its stderr: the line the command line prints last for a failure
 * (`shelf <command>: …`, cli/main.ts), else the last three lines.
 */
export function reasonOf(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const said = lines.findLast((l) => l.startsWith('shelf '));
  return said ?? lines.slice(-3).join(' | ');
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the job was aborted');
}
