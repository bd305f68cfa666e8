/**
 * The embedded job runner: jobs run in this process one at a time, in order; their status
 * stays queryable for a while. BullMQ takes its place when `REDIS_URL` is set. Each job name has
 * one processor (train-processor.ts, segments-processor.ts), given at construction: a caller
 * enqueues a name, never a job body.
 */
import { randomUUID } from 'node:crypto';

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

export interface JobStatus {
  id: string;
  name: string;
  state: JobState;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  result?: unknown;
  error?: string;
}

/** A job's body: runs it and resolves to its result (kept in the job's status). */
export type JobProcessor = () => Promise<unknown>;

/** What a producer (the API, a schedule) sees of a runner. */
export interface JobQueue<N extends string = string> {
  /** Queues the job `name`; returns its status at once. */
  enqueue(name: N): JobStatus;
  status(id: string): JobStatus | null;
}

/** Finished jobs kept for status queries. */
const KEEP = 100;

export class InlineJobs<N extends string = string> implements JobQueue<N> {
  private readonly jobs = new Map<string, JobStatus>();
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly processors: Readonly<Record<N, JobProcessor>>) {}

  enqueue(name: N): JobStatus {
    const run = this.processors[name];
    const job: JobStatus = { id: randomUUID(), name, state: 'queued', queuedAt: new Date().toISOString() };
    this.jobs.set(job.id, job);
    this.tail = this.tail.then(async () => {
      job.state = 'running';
      job.startedAt = new Date().toISOString();
      try {
        job.result = await run();
        job.state = 'completed';
      } catch (err) {
        job.state = 'failed';
        job.error = (err as Error).message;
      }
      job.finishedAt = new Date().toISOString();
      this.prune();
    });
    return job;
  }

  status(id: string): JobStatus | null {
    return this.jobs.get(id) ?? null;
  }

  /** Resolves when every job queued so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }

  private prune(): void {
    const done = [...this.jobs.values()].filter((j) => j.state === 'completed' || j.state === 'failed');
    for (const j of done.slice(0, Math.max(0, done.length - KEEP))) this.jobs.delete(j.id);
  }
}
