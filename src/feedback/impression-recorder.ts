/**
 * Records every list served off the request path: `record` only appends to a bounded buffer;
 * a timer writes it to the store in batches at least every `flushEveryMs`. When the store is
 * slow or failing the buffer fills and new impressions are shed, counted and logged — serving
 * never waits on the store. `close` (drain, SIGTERM) writes what is held.
 */
import type { Logger } from 'pino';
import type { Impression } from '../serving/types.ts';
import type { NewImpression, Store, StoredImpression } from '../store/types.ts';
import type { FeedbackCounters } from './feedback-counters.ts';

export interface ImpressionRecorderOptions {
  store: Pick<Store, 'insertImpressions'>;
  log: Logger;
  counters?: FeedbackCounters;
  /** How often the buffer is written, ms. @defaultValue 1000 */
  flushEveryMs?: number;
  /** Impressions held at most; more are shed. @defaultValue 50000 */
  capacity?: number;
  /** Impressions per store write. @defaultValue 1000 */
  batchSize?: number;
}

export interface RecorderStats {
  recorded: number;
  written: number;
  dropped: number;
  pending: number;
}

/**
 * Where the engine's lists go: this recorder, on the thread that serves; or the same recorder in
 * a worker thread of its own (impression-thread.ts).
 */
export interface ImpressionLog {
  /** The engine's `onImpression`: synchronous, O(1), never throws. */
  readonly record: (i: Impression) => void;
  readonly stats: RecorderStats;
  /** Resolves when everything recorded so far is written (or shed). */
  flush(): Promise<void>;
  /** Writes what is held; later impressions are shed. */
  close(): Promise<void>;
}

export class ImpressionRecorder implements ImpressionLog {
  private buffer: NewImpression[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly flushEveryMs: number;
  private recorded = 0;
  private written = 0;
  private dropped = 0;
  /** Drops since the last warning: one line per flush, not one per impression. */
  private droppedUnlogged = 0;

  constructor(private readonly o: ImpressionRecorderOptions) {
    this.capacity = o.capacity ?? 50_000;
    this.batchSize = o.batchSize ?? 1000;
    this.flushEveryMs = o.flushEveryMs ?? 1000;
  }

  /** Starts the flush timer (it does not keep the process alive). */
  start(): this {
    // A tick while a write is still out (a slow store) adds nothing: the write in progress takes
    // what has come meanwhile before it ends.
    this.timer ??= setInterval(() => {
      if (!this.writing) void this.flush();
    }, this.flushEveryMs).unref();
    return this;
  }

  /** The engine's `onImpression`: synchronous, O(1), never throws. */
  readonly record = (i: Impression): void => {
    this.o.counters?.impression(i.tier);
    const s: StoredImpression = {
      recommendationId: i.recommendationId,
      tier: i.tier,
      config: i.config,
      probability: i.probability ?? 1,
      modelVersion: i.modelVersion,
      itemIds: i.itemIds,
      timestamp: i.timestamp,
    };
    if (i.userId !== undefined) s.userId = i.userId;
    if (i.sessionId !== undefined) s.sessionId = i.sessionId;
    if (i.experiment !== undefined) s.experiment = i.experiment;
    if (i.variant !== undefined) s.variant = i.variant;
    if (i.positions !== undefined) s.positions = i.positions;
    if (i.sessionUnit) s.sessionUnit = true;
    this.add(s);
  };

  /** A list as it is to be written (the writer thread's, handed over by impression-thread.ts). */
  add(s: NewImpression): void {
    this.recorded++;
    if (this.closed || this.buffer.length >= this.capacity) {
      this.shed(1);
      return;
    }
    this.buffer.push(s);
  }

  get stats(): RecorderStats {
    return {
      recorded: this.recorded,
      written: this.written,
      dropped: this.dropped,
      pending: this.buffer.length,
    };
  }

  /**
   * Writes everything held now (after a write in progress). The attributor calls it before
   * looking impressions up, so a click right after its list finds it on this replica.
   */
  flush(): Promise<void> {
    const prev = this.writing ?? Promise.resolve();
    const next = prev.then(() => this.writeAll());
    const mine = next.finally(() => {
      if (this.writing === mine) this.writing = null;
    });
    this.writing = mine;
    return mine;
  }

  /** Stops the timer and writes what is held; later impressions are shed. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
    this.closed = true;
  }

  private async writeAll(): Promise<void> {
    while (this.buffer.length) {
      // At most one batch is out of the buffer at a time: memory ≤ capacity + batchSize.
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.o.store.insertImpressions(batch);
        this.written += batch.length;
      } catch (err) {
        this.shed(batch.length);
        this.o.log.error({ err, impressions: batch.length }, 'impressions not written: dropped');
      }
    }
    if (this.droppedUnlogged) {
      this.o.log.warn(
        { dropped: this.droppedUnlogged, total: this.dropped, capacity: this.capacity },
        'impression buffer full: impressions shed',
      );
      this.droppedUnlogged = 0;
    }
  }

  private shed(n: number): void {
    this.dropped += n;
    this.droppedUnlogged += n;
    if (this.o.counters) this.o.counters.dropped += n;
  }
}
