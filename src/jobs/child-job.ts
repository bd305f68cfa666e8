/**
 * Runs a job's CPU-bound body as a `shelf` command in a child process, off the event loop of the
 * process that serves requests or renews BullMQ locks. The child opens the same store and data
 * dir (the config's variables), writes `{"progress":{stage,percent}}` lines while it runs and its
 * result as the last line of stdout. It ends when its parent does: it watches its stdin, which
 * the parent holds open. An abort of the job ends it with SIGTERM.
 *
 * The child runs at a lower CPU priority (nice 10), its threads too: on a machine that also
 * serves, the scheduler gives the API the cores it asks for and the job the rest, so a train
 * job slows down rather than the answers.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { JobContext } from './job-types.ts';

const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
/** Of the child's stderr, the tail kept for a failure's message. */
const STDERR_TAIL = 4000;
/** A job child's niceness (never above this process's own priority). */
export const JOB_NICENESS = 10;

/** Starts `shelf ...args` with `env` added, at the job's lower priority. */
export function startJobChild(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) {
    try {
      setPriority(child.pid, Math.max(getPriority(), JOB_NICENESS));
    } catch {
      // Not permitted here (a container's limits): the job runs at this process's priority.
    }
  }
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

/** Runs `shelf ...args` with `env` added; progress lines go to `ctx.progress`. */
export function runChildJob(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  ctx: Pick<JobContext, 'progress' | 'signal'>,
): Promise<ChildJobResult> {
  return new Promise<ChildJobResult>((resolve, reject) => {
    if (ctx.signal.aborted) return reject(abortReason(ctx.signal));
    const child = startJobChild(args, env);
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
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) line(l);
    });
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-STDERR_TAIL)));
    // The parent never writes: stdin stays open until this process ends.
    child.stdin.on('error', () => {});
    child.once('error', reject);
    child.once('close', (code) => {
      ctx.signal.removeEventListener('abort', onAbort);
      line(pending);
      if (ctx.signal.aborted) return reject(abortReason(ctx.signal));
      resolve({ code, last, stderr: err.trim().split('\n').slice(-3).join(' | ') });
    });
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the job was aborted');
}
