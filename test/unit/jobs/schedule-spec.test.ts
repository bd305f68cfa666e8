import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeSchedule, nextRun, parseSchedule } from '../../../src/jobs/schedule-spec.ts';
import { TimerSchedules } from '../../../src/jobs/schedules.ts';
import type { JobQueue, JobStatus, ShelfJobName } from '../../../src/jobs/job-types.ts';

describe('schedules', () => {
  afterEach(() => vi.useRealTimers());

  it('parses off, intervals and cron patterns, and refuses the rest with the reason', () => {
    expect(parseSchedule('off')).toBeNull();
    expect(parseSchedule('every 5m')).toEqual({ everyMs: 300_000 });
    expect(parseSchedule('every 2 h')).toEqual({ everyMs: 7_200_000 });
    expect(parseSchedule(' 0 3 * * * ')).toEqual({ pattern: '0 3 * * *' });
    expect(() => parseSchedule('every 500ms')).toThrow(/at most once a second/);
    expect(() => parseSchedule('every 5 minutes')).toThrow(/unit of ms, s, m, h or d/);
    expect(() => parseSchedule('nightly')).toThrow(/cron pattern of 5 or 6 fields/);
    expect(() => parseSchedule('0 25 * * *')).toThrow(/not a valid cron pattern/);
    expect(describeSchedule({ everyMs: 1000 })).toBe('every 1000 ms');
  });

  it('computes the next run: cron in UTC, intervals from their anchor', () => {
    const t = Date.parse('2026-12-02T23:55:00Z');
    expect(new Date(nextRun({ pattern: '0 3 * * *' }, t)).toISOString()).toBe('2026-12-03T03:00:00.000Z');
    expect(new Date(nextRun({ pattern: '*/5 * * * *' }, t)).toISOString()).toBe('2026-12-03T00:00:00.000Z');
    expect(nextRun({ everyMs: 1000 }, 10_500, 10_000)).toBe(11_000);
    expect(nextRun({ everyMs: 1000 }, 11_000, 10_000)).toBe(12_000);
  });

  it('fires each embedded schedule on its timer and lists the next run', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-02T00:00:00Z') });
    const queued: string[] = [];
    const jobs: JobQueue<ShelfJobName> = {
      enqueue: async (name) => {
        queued.push(name);
        return { id: String(queued.length), name, state: 'queued', queuedAt: '', attempts: 0 } as JobStatus;
      },
      status: async () => null,
      list: async () => [],
      counts: async () => ({ queued: 0, running: 0, completed: 0, failed: 0 }),
    };
    const s = new TimerSchedules(
      { train: { pattern: '0 3 * * *' }, segments: null, 'aggregate-feedback': { everyMs: 60_000 } },
      jobs,
      pino({ level: 'silent' }),
    ).start();
    expect(await s.schedules()).toEqual([
      { job: 'train', schedule: '0 3 * * *', next: '2026-12-02T03:00:00.000Z' },
      { job: 'segments', schedule: null, next: null },
      { job: 'aggregate-feedback', schedule: 'every 60000 ms', next: '2026-12-02T00:01:00.000Z' },
    ]);
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    expect(queued).toEqual(['aggregate-feedback', 'aggregate-feedback', 'aggregate-feedback']);
    await vi.advanceTimersByTimeAsync(3 * 3_600_000);
    expect(queued.filter((n) => n === 'train')).toEqual(['train']);
    expect((await s.schedules())[0]!.next).toBe('2026-12-03T03:00:00.000Z');
    s.stop();
    await vi.advanceTimersByTimeAsync(3_600_000);
    // 3 + 180 aggregations and the one train; none after stop().
    expect(queued.length).toBe(3 + 180 + 1);
  });
});
