/**
 * The embedded job runner: jobs run in this process one at a time, in order, with the same
 * semantics as the BullMQ runner: a payload checked before the first attempt (a bad one fails at
 * once), progress (stage, percent), a failed attempt retried with exponential backoff up to the
 * policy's attempts, a failure kept with its reason, status queryable for a while. Each job name
 * has one processor, given at construction: a caller enqueues a name and a payload, never a body.
 * A processor that does CPU work for long runs it in a child process (child-train.ts,
 * child-segments.ts) so the serving event loop keeps answering.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkPayload, PayloadError } from './job-payloads.ts';
import { DEFAULT_RETRY } from './job-types.ts';
import type { JobCounts, JobProcessor, JobQueue, JobStatus, RetryPolicy } from './job-types.ts';

/** Finished jobs kept for status queries. */
const KEEP = 100;

/** An error a retry cannot mend (a bad payload, a missing processor): the job fails at once. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

export interface InlineJobsOptions {
  /** @defaultValue DEFAULT_RETRY (3 attempts, 1 s then 2 s) */
  retry?: RetryPolicy;
  /** Checks a job's payload (job-payloads.ts `checkPayload`); tests pass their own. */
  check?: (name: string, data: unknown) => unknown;
}

export class InlineJobs<N extends string = string> implements JobQueue<N> {
  private readonly jobs = new Map<string, JobStatus>();
  private tail: Promise<void> = Promise.resolve();
  private readonly retry: RetryPolicy;
  private readonly check: (name: string, data: unknown) => unknown;
  private running: AbortController | null = null;
  private stopped = false;

  constructor(
    /** Each takes the payload its schema admits; `never` lets processors of any payload in. */
    private readonly processors: Readonly<Record<N, JobProcessor<never>>>,
    o: InlineJobsOptions = {},
  ) {
    this.retry = o.retry ?? DEFAULT_RETRY;
    this.check = o.check ?? checkPayload;
  }

  /** Queues a job; its status as of now (a copy). */
  enqueue(name: N, data?: unknown): Promise<JobStatus> {
    return Promise.resolve({ ...this.add(name, data) });
  }

  /** Queues a job and returns its live status object (start-up and tests wait on it). */
  add(name: N, data?: unknown): JobStatus {
    const job: JobStatus = {
      id: randomUUID(),
      name,
      state: 'queued',
      queuedAt: new Date().toISOString(),
      attempts: 0,
    };
    this.jobs.set(job.id, job);
    this.tail = this.tail.then(() => this.run(job, data));
    return job;
  }

  async status(id: string): Promise<JobStatus | null> {
    const job = this.jobs.get(id);
    return job ? { ...job } : null;
  }

  async list(limit: number): Promise<JobStatus[]> {
    return [...this.jobs.values()]
      .reverse()
      .slice(0, limit)
      .map((j) => ({ ...j }));
  }

  async counts(): Promise<JobCounts> {
    const counts: JobCounts = { queued: 0, running: 0, completed: 0, failed: 0 };
    for (const j of this.jobs.values()) counts[j.state]++;
    return counts;
  }

  /** Resolves when every job queued so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }

  /**
   * Stops: the running job is aborted (its child process ended); nothing more runs. Returns the
   * jobs not run to their end, running or queued: they live in this process only, so no start
   * runs them again (the caller says which).
   */
  stop(): JobStatus[] {
    this.stopped = true;
    this.running?.abort(new Error('the runner stopped'));
    return [...this.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'running');
  }

  private async run(job: JobStatus, data: unknown): Promise<void> {
    if (this.stopped) return;
    const processor = (this.processors as Readonly<Record<string, JobProcessor<never>>>)[job.name];
    let payload: unknown;
    try {
      if (!processor) throw new PermanentJobError(`no processor for job ${job.name}`);
      payload = this.check(job.name, data);
    } catch (err) {
      return this.finish(job, err as Error);
    }
    job.startedAt = new Date().toISOString();
    for (;;) {
      // Stopped during a backoff: left queued, as a job not yet started is.
      if (this.stopped) {
        job.state = 'queued';
        return;
      }
      job.attempts++;
      job.state = 'running';
      const abort = new AbortController();
      this.running = abort;
      try {
        job.result = await (processor as JobProcessor<unknown>)({
          id: job.id,
          data: payload,
          attempt: job.attempts,
          signal: abort.signal,
          progress: (stage, percent) => {
            job.progress = { stage, percent: Math.max(0, Math.min(100, Math.round(percent))) };
          },
        });
        delete job.error;
        return this.finish(job, null);
      } catch (err) {
        const error = err as Error;
        if (this.stopped) {
          // Handed back: not a failure of the job.
          job.state = 'queued';
          return;
        }
        if (error instanceof PayloadError || error instanceof PermanentJobError)
          return this.finish(job, error);
        if (job.attempts >= this.retry.attempts) return this.finish(job, error);
        job.state = 'queued';
        job.error = error.message;
        await sleep(this.retry.backoffMs * 2 ** (job.attempts - 1));
      } finally {
        this.running = null;
      }
    }
  }

  private finish(job: JobStatus, err: Error | null): void {
    job.state = err ? 'failed' : 'completed';
    if (err) job.error = err.message;
    // Done is 100%, whatever the last stage reported (segments report 'classify 0%' only).
    else if (job.progress) job.progress = { ...job.progress, percent: 100 };
    job.finishedAt = new Date().toISOString();
    this.prune();
  }

  private prune(): void {
    const done = [...this.jobs.values()].filter((j) => j.state === 'completed' || j.state === 'failed');
    for (const j of done.slice(0, Math.max(0, done.length - KEEP))) this.jobs.delete(j.id);
  }
}
