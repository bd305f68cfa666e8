/**
 * A schedule as the config holds it: a cron pattern (UTC) or a fixed interval, parsed from
 * `off`, `every 5m` (ms, s, m, h, d) or a 5- or 6-field cron pattern such as `0 3 * * *`.
 * BullMQ's job schedulers take the same two forms (`pattern`, `every`); the embedded timer
 * computes the next run here.
 */
import cronParser from 'cron-parser';

export type ScheduleSpec = { pattern: string } | { everyMs: number };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a schedule; null for `off`. Throws an Error saying what is wrong. */
export function parseSchedule(raw: string): ScheduleSpec | null {
  const text = raw.trim();
  if (text === 'off') return null;
  const every = /^every\s+(\d+)\s*(ms|s|m|h|d)$/.exec(text);
  if (every) {
    const ms = Number(every[1]) * UNITS[every[2]!]!;
    if (ms < 1000) throw new Error(`must repeat at most once a second, got ${JSON.stringify(raw)}`);
    return { everyMs: ms };
  }
  if (text.startsWith('every'))
    throw new Error(`must be "every N" with a unit of ms, s, m, h or d, got ${JSON.stringify(raw)}`);
  const fields = text.split(/\s+/).length;
  if (fields !== 5 && fields !== 6)
    throw new Error(
      `must be off, "every N<unit>" or a cron pattern of 5 or 6 fields, got ${JSON.stringify(raw)}`,
    );
  try {
    cronParser.parseExpression(text, { tz: 'UTC' });
  } catch (err) {
    throw new Error(`is not a valid cron pattern (${(err as Error).message})`, { cause: err });
  }
  return { pattern: text };
}

/** The first run of `spec` after `after` (epoch ms). An interval counts from `anchor`. */
export function nextRun(spec: ScheduleSpec, after: number, anchor = 0): number {
  if ('everyMs' in spec) return anchor + (Math.floor((after - anchor) / spec.everyMs) + 1) * spec.everyMs;
  return cronParser
    .parseExpression(spec.pattern, { currentDate: new Date(after), tz: 'UTC' })
    .next()
    .getTime();
}

/** How the schedule reads back (`GET /v1/admin/schedules`). */
export function describeSchedule(spec: ScheduleSpec): string {
  return 'pattern' in spec ? spec.pattern : `every ${spec.everyMs} ms`;
}
