/**
 * The embedded job runner: jobs run in this process one at a time, in order; their status
 * stays queryable for a while. BullMQ takes its place when `REDIS_URL` is set.
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

/** Finished jobs kept for status queries. */
const KEEP = 100;

export class InlineJobs {
  private readonly jobs = new Map<string, JobStatus>();
  private tail: Promise<void> = Promise.resolve();

  /** Queues `run`; resolves to the job's id at once. */
  enqueue(name: string, run: () => Promise<unknown>): JobStatus {
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
