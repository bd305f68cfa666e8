/**
 * The latest segment report, shared through Redis when a worker computes it (`shelf worker`
 * runs the segments job): the worker writes it at the cluster's key (`redisNames().segmentReport`)
 * and announces it on the change feed; every API replica reads it from here and serves its lists.
 */
import type { Redis } from 'ioredis';
import { reportFromJson, reportToJson } from './segment-reports.ts';
import type { SegmentReport } from './segment-reports.ts';

export class SharedSegmentReport {
  constructor(
    private readonly redis: Redis,
    /** The cluster's key (`redisNames().segmentReport`). */
    private readonly key: string,
  ) {}

  async save(report: SegmentReport): Promise<void> {
    await this.redis.set(this.key, reportToJson(report));
  }

  /** The report saved last, or null. */
  async load(): Promise<SegmentReport | null> {
    const raw = await this.redis.get(this.key);
    return raw === null ? null : reportFromJson(JSON.parse(raw));
  }
}
