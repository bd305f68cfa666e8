/**
 * What every job runner shares: a job's status as producers and `shelf jobs` see it, the context
 * a processor runs with (its payload, attempt, progress), and the `JobQueue` a producer (the API,
 * a schedule, the command line) enqueues through. Two runners implement it: `InlineJobs`
 * (embedded mode, in this process) and `BullmqJobs` (with `REDIS_URL`, run by `shelf worker`).
 */

/** The jobs Shelf runs, by name. */
export const JOB_NAMES = ['train', 'segments', 'aggregate-feedback', 'import'] as const;
export type ShelfJobName = (typeof JOB_NAMES)[number];
/** The jobs that run on a schedule (an import runs when asked). */
export const SCHEDULED_JOBS = ['train', 'segments', 'aggregate-feedback'] as const;
export type ScheduledJobName = (typeof SCHEDULED_JOBS)[number];

export type JobState = 'queued' | 'running' | 'completed' | 'failed';

/** Where a running job is: a stage name and a percentage (0–100). */
export interface JobProgress {
  stage: string;
  percent: number;
}

export interface JobStatus {
  id: string;
  name: string;
  state: JobState;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Attempts started so far (a retried job shows 2 or more). */
  attempts: number;
  progress?: JobProgress;
  result?: unknown;
  /** The reason of the last failure (of the job, or of an attempt that will be retried). */
  error?: string;
}

/** Jobs per state, as `/metrics` and `shelf jobs` show them. */
export type JobCounts = Record<JobState, number>;

/** What a processor gets: its validated payload, which attempt this is, a way to show progress. */
export interface JobContext<D = unknown> {
  id: string;
  data: D;
  /** 1 for the first attempt. */
  attempt: number;
  progress(stage: string, percent: number): void;
  /** Aborted when the runner stops and hands the job back (a child process is ended). */
  signal: AbortSignal;
}

/** A job's body: runs it and resolves to its result (kept in the job's status). */
export type JobProcessor<D = unknown> = (ctx: JobContext<D>) => Promise<unknown>;

/** What a producer (the API, a schedule, the command line) sees of a runner. */
export interface JobQueue<N extends string = string> {
  /** Queues the job `name` with `data` (its payload, checked when it runs); its status. */
  enqueue(name: N, data?: unknown): Promise<JobStatus>;
  status(id: string): Promise<JobStatus | null>;
  /** The newest jobs first, at most `limit`. */
  list(limit: number): Promise<JobStatus[]>;
  counts(): Promise<JobCounts>;
}

/** Retries of a job whose attempt failed with a transient fault. */
export interface RetryPolicy {
  /** Attempts in all. @defaultValue 3 */
  attempts: number;
  /** Wait before the second attempt, doubled before each later one, ms. @defaultValue 1000 */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000 };
