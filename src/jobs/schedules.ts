/**
 * Schedules of the jobs: what `GET /v1/admin/schedules` lists. With Redis they are BullMQ job
 * schedulers (bullmq-jobs.ts), fired once per cluster; embedded, `TimerSchedules` enqueues on
 * the inline runner from timers in the server process.
 */
import type { Logger } from 'pino';
import { SCHEDULED_JOBS } from './job-types.ts';
import type { JobQueue, ScheduledJobName, ShelfJobName } from './job-types.ts';
import { describeSchedule, nextRun } from './schedule-spec.ts';
import type { ScheduleSpec } from './schedule-spec.ts';

export interface ScheduleInfo {
  job: ScheduledJobName;
  /** The pattern or interval; null when off. */
  schedule: string | null;
  /** The next firing, ISO time; null when off (or not yet registered by a worker). */
  next: string | null;
}

export interface Schedules {
  schedules(): Promise<ScheduleInfo[]>;
}

/** setTimeout's longest wait; a later run is reached in steps. */
const MAX_TIMEOUT = 2 ** 31 - 1;

export class TimerSchedules implements Schedules {
  private readonly timers = new Map<ScheduledJobName, NodeJS.Timeout>();
  private readonly next = new Map<ScheduledJobName, number>();
  private readonly anchor: number;

  constructor(
    private readonly specs: Readonly<Record<ScheduledJobName, ScheduleSpec | null>>,
    private readonly jobs: JobQueue<ShelfJobName>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.anchor = now();
  }

  start(): this {
    for (const name of SCHEDULED_JOBS) this.arm(name);
    return this;
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  async schedules(): Promise<ScheduleInfo[]> {
    return SCHEDULED_JOBS.map((job) => {
      const spec = this.specs[job];
      const next = this.next.get(job) ?? (spec ? nextRun(spec, this.now(), this.anchor) : null);
      return {
        job,
        schedule: spec ? describeSchedule(spec) : null,
        next: next === null ? null : new Date(next).toISOString(),
      };
    });
  }

  private arm(name: ScheduledJobName): void {
    const spec = this.specs[name];
    if (!spec) return;
    const at = nextRun(spec, this.now(), this.anchor);
    this.next.set(name, at);
    const wait = () => {
      const left = at - this.now();
      if (left > MAX_TIMEOUT) return this.timers.set(name, setTimeout(wait, MAX_TIMEOUT).unref());
      this.timers.set(
        name,
        setTimeout(
          () => {
            this.jobs
              .enqueue(name)
              .catch((err: unknown) => this.log.error({ err, job: name }, 'scheduled job not queued'));
            this.arm(name);
          },
          Math.max(0, left),
        ).unref(),
      );
    };
    wait();
  }
}
