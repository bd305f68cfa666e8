/**
 * The "compute segments" job and what it leaves behind: the latest counts per segment and
 * lifecycle (with the high-value threshold they were made with) and what each segment engages
 * with now. The profile route classifies one user with the same rules; serving takes the lists.
 * Each process computes its own from the shared store (about 3 s per 100k users here).
 */
import type { Store } from '../store/types.ts';
import { computeSegments } from './compute-segments.ts';
import { computeSegmentTrending } from './segment-trending.ts';
import type { SegmentTrending, SegmentTrendingOptions } from './segment-trending.ts';
import { classify, DEFAULT_SEGMENT_RULES } from './segments.ts';
import type {
  Classification,
  SegmentOptions,
  SegmentRules,
  SegmentSummary,
  UserActivity,
} from './segments.ts';

export interface SegmentReport {
  summary: SegmentSummary;
  trending: SegmentTrending;
  /** Epoch ms the report is as of, and how long it took. */
  computedAt: number;
  tookMs: number;
}

export interface SegmentReportsOptions {
  store: Pick<Store, 'usersActivity' | 'streamEvents' | 'userActivity'>;
  /** How segment-trending lists are scored (serving passes its own trending constants). */
  trending: Omit<SegmentTrendingOptions, 'rules'>;
  segments?: SegmentOptions;
  now?: () => number;
  /** Called with every new report (serving takes its lists). */
  onReport?: (report: SegmentReport) => void;
}

export class SegmentReports {
  private current: SegmentReport | null = null;
  private running: Promise<SegmentReport> | null = null;
  private readonly now: () => number;

  constructor(private readonly o: SegmentReportsOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The last report (null before the first one finished). */
  get latest(): SegmentReport | null {
    return this.current;
  }

  /** Takes a report computed elsewhere (a child process, a worker) as the latest. */
  accept(report: SegmentReport): void {
    if (this.current && this.current.computedAt > report.computedAt) return;
    this.current = report;
    this.o.onReport?.(report);
  }

  /** Computes a new report; a call while one runs joins it. */
  refresh(): Promise<SegmentReport> {
    this.running ??= this.compute().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * One user's activity, segment and lifecycle, with the rules of the last report. Before the
   * first report nobody is high-value: the threshold is a percentile of the population.
   */
  async classifyUser(userId: string): Promise<Classification & { activity: UserActivity }> {
    const activity = await this.o.store.userActivity(userId);
    return { ...classify(activity, this.now(), this.rules()), activity };
  }

  private rules(): SegmentRules {
    return (
      this.current?.summary.rules ?? {
        ...DEFAULT_SEGMENT_RULES,
        ...this.o.segments,
        highValueRevenue:
          typeof this.o.segments?.highValueRevenue === 'number' ? this.o.segments.highValueRevenue : Infinity,
      }
    );
  }

  private async compute(): Promise<SegmentReport> {
    const t0 = performance.now();
    const now = this.now();
    const summary = await computeSegments(this.o.store, now, this.o.segments);
    const trending = await computeSegmentTrending(this.o.store, now, {
      ...this.o.trending,
      rules: summary.rules,
    });
    const report = { summary, trending, computedAt: now, tookMs: Math.round(performance.now() - t0) };
    this.accept(report);
    return report;
  }
}

/** A report as JSON (`highValueRevenue` may be Infinity, which JSON has not: written as a string). */
export function reportToJson(report: SegmentReport): string {
  return JSON.stringify(report, (k, v: unknown) =>
    k === 'highValueRevenue' && v === Infinity ? 'Infinity' : v,
  );
}

/** The inverse of `reportToJson` (on its parsed value). */
export function reportFromJson(value: unknown): SegmentReport {
  return JSON.parse(JSON.stringify(value), (k, v: unknown) =>
    k === 'highValueRevenue' && v === 'Infinity' ? Infinity : v,
  ) as SegmentReport;
}
