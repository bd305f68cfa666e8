/**
 * The job queue on BullMQ (with `REDIS_URL`): the API replicas and the command line enqueue here,
 * `shelf worker` processes run the jobs (bullmq-worker.ts). Every job gets the retry policy
 * (exponential backoff); finished jobs are kept for status queries up to a count. Schedules are
 * BullMQ job schedulers (`upsertJobScheduler`), so each fires once per cluster.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Job, JobType } from 'bullmq';
import { SparseWarning } from '../sparse-warning.ts';
import { SCHEDULED_JOBS } from './job-types.ts';
import type {
  JobCounts,
  JobProgress,
  JobQueue,
  JobState,
  JobStatus,
  RetryPolicy,
  ScheduledJobName,
  ShelfJobName,
} from './job-types.ts';
import { describeSchedule } from './schedule-spec.ts';
import type { ScheduleSpec } from './schedule-spec.ts';
import type { ScheduleInfo, Schedules } from './schedules.ts';

/** The one queue's name; clusters sharing a Redis keep apart by the prefix. */
export const QUEUE_NAME = 'shelf-jobs';

/** Finished jobs kept in Redis for status queries. */
const KEEP_COMPLETED = 200;
const KEEP_FAILED = 500;

export interface BullmqJobsOptions {
  url: string;
  /** BullMQ's key prefix (`SHELF_QUEUE_PREFIX`). */
  prefix: string;
  retry: RetryPolicy;
  /** Where a queue whose Redis does not answer is said (once every 30 s). */
  log?: Logger;
}

const STATE: Record<string, JobState> = {
  waiting: 'queued',
  prioritized: 'queued',
  delayed: 'queued',
  'waiting-children': 'queued',
  active: 'running',
  completed: 'completed',
  failed: 'failed',
};

/**
 * A job scheduler's next firing, not yet due: BullMQ holds it as a delayed job from the moment
 * the previous one fires (for a nightly train, a day ahead). It is the schedule's (listed with
 * its next run by `schedules`), not work queued: counted as queued, a cluster at rest showed
 * one queued job per schedule, forever. A firing that failed and waits to be retried is queued.
 */
function upcoming(job: Job): boolean {
  // Asked of delayed jobs only: once due, the firing waits for a worker like any queued job.
  return Boolean(job.repeatJobKey) && job.attemptsStarted === 0;
}

/** A BullMQ job as a Shelf job status. */
export function statusOf(job: Job, state: string): JobStatus {
  const s: JobStatus = {
    id: String(job.id),
    name: job.name,
    state: STATE[state] ?? 'queued',
    queuedAt: new Date(job.timestamp).toISOString(),
    attempts: job.attemptsStarted,
  };
  // A job back in the queue (handed back by a stopping worker, or waiting to be retried) has not
  // started the attempt it waits for: an earlier attempt's start and progress would read as now.
  const started = s.state !== 'queued';
  if (started && job.processedOn) s.startedAt = new Date(job.processedOn).toISOString();
  if (job.finishedOn) s.finishedAt = new Date(job.finishedOn).toISOString();
  const p = job.progress as Partial<JobProgress> | number;
  if (started && typeof p === 'object' && typeof p.stage === 'string' && typeof p.percent === 'number')
    s.progress = { stage: p.stage, percent: s.state === 'completed' ? 100 : p.percent };
  if (job.returnvalue !== null && job.returnvalue !== undefined) s.result = job.returnvalue;
  if (job.failedReason) s.error = job.failedReason;
  return s;
}

export class BullmqJobs implements JobQueue<ShelfJobName>, Schedules {
  readonly queue: Queue;

  constructor(o: BullmqJobsOptions) {
    this.queue = new Queue(QUEUE_NAME, {
      // A producer on an HTTP path fails fast rather than queueing commands while Redis is down.
      connection: { url: o.url, maxRetriesPerRequest: 1 },
      prefix: o.prefix,
      defaultJobOptions: {
        attempts: o.retry.attempts,
        backoff: { type: 'exponential', delay: o.retry.backoffMs },
        removeOnComplete: { count: KEEP_COMPLETED },
        removeOnFail: { count: KEEP_FAILED },
      },
    });
    // Without a listener ioredis prints each failed reconnection's stack on stderr.
    const down = new SparseWarning(o.log, 'the job queue does not answer (Redis)');
    this.queue.on('error', (err) => down.say(err));
  }

  async enqueue(name: ShelfJobName, data?: unknown): Promise<JobStatus> {
    // Not BullMQ's counter, which starts again at 1 on a Redis restarted empty: a train job's id
    // names the version it publishes (its manifest's jobKey), and a new job given an old one's
    // id found that version and promoted it again, trained on nothing, a rolled-back one too.
    const job = await this.queue.add(name, data ?? {}, { jobId: randomUUID() });
    return statusOf(job, 'waiting');
  }

  /**
   * Queues `name` under the job id `id` unless a job of that id is queued or running (BullMQ adds
   * nothing then): replicas starting together queue it once. A finished one is queued again.
   */
  async enqueueOnce(name: ShelfJobName, id: string): Promise<JobStatus> {
    const existing = await this.queue.getJob(id);
    const state = existing ? await existing.getState() : null;
    if (state === 'failed' || state === 'completed') await existing!.remove();
    const job = await this.queue.add(name, {}, { jobId: id });
    return statusOf(job, await this.queue.getJobState(id));
  }

  async status(id: string): Promise<JobStatus | null> {
    // The state first, then the job: its fields are at least as new as the state read.
    const state = await this.queue.getJobState(id);
    const job = await this.queue.getJob(id);
    return job ? statusOf(job, state) : null;
  }

  async list(limit: number): Promise<JobStatus[]> {
    const out: JobStatus[] = [];
    const types: JobType[] = ['active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed'];
    for (const type of types) {
      const jobs = (await this.queue.getJobs(type, 0, limit - 1, false)) as Job[];
      for (const j of jobs) if (j && !(type === 'delayed' && upcoming(j))) out.push(statusOf(j, type));
    }
    return out.sort((a, b) => b.queuedAt.localeCompare(a.queuedAt)).slice(0, limit);
  }

  async counts(): Promise<JobCounts> {
    const c = await this.queue.getJobCounts('active', 'waiting', 'prioritized', 'completed', 'failed');
    // Delayed jobs are each schedule's next firing and retries in their backoff: a few, read whole.
    const delayed = ((await this.queue.getJobs('delayed')) as Job[]).filter((j) => j && !upcoming(j));
    return {
      queued: (c.waiting ?? 0) + (c.prioritized ?? 0) + delayed.length,
      running: c.active ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    };
  }

  /**
   * Makes the queue's job schedulers match `schedules` (null: removed): one scheduler per job,
   * named after it, so any number of workers upserting the same config fire each once.
   */
  async syncSchedules(schedules: Readonly<Record<ScheduledJobName, ScheduleSpec | null>>): Promise<void> {
    for (const name of SCHEDULED_JOBS) await this.setSchedule(name, schedules[name]);
  }

  private async setSchedule(name: ScheduledJobName, spec: ScheduleSpec | null): Promise<void> {
    if (!spec) {
      await this.queue.removeJobScheduler(name);
      return;
    }
    await this.queue.upsertJobScheduler(
      name,
      'pattern' in spec ? { pattern: spec.pattern, tz: 'UTC' } : { every: spec.everyMs },
      { name, data: {} },
    );
  }

  /**
   * Adds back the schedules of `schedules` that Redis no longer holds (it restarted empty, or
   * was flushed); those it holds are left as they are (their next firing kept). The names added.
   */
  async restoreSchedules(
    schedules: Readonly<Record<ScheduledJobName, ScheduleSpec | null>>,
  ): Promise<ScheduledJobName[]> {
    const held = new Set((await this.queue.getJobSchedulers(0, -1, true)).map((s) => s.key));
    const missing = SCHEDULED_JOBS.filter((name) => schedules[name] && !held.has(name));
    for (const name of missing) await this.setSchedule(name, schedules[name]);
    return missing;
  }

  async schedules(): Promise<ScheduleInfo[]> {
    const all = await this.queue.getJobSchedulers(0, -1, true);
    return SCHEDULED_JOBS.map((job) => {
      const s = all.find((x) => x.key === job);
      const spec: ScheduleSpec | null = s?.pattern
        ? { pattern: s.pattern }
        : s?.every
          ? { everyMs: Number(s.every) }
          : null;
      return {
        job,
        schedule: spec ? describeSchedule(spec) : null,
        next: s?.next ? new Date(s.next).toISOString() : null,
      };
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
