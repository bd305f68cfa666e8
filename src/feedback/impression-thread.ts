/**
 * The impression recorder in a worker thread with a store connection of its own
 * (impression-writer.ts). The serving thread only appends each list to an outbox handed to the
 * thread every few milliseconds, so writing lists — a row and its index entries each — takes
 * nothing from the event loop, and a list lives in the serving heap for milliseconds, not until
 * the next write: held for a second, every list outlived two scavenges and was promoted, and
 * collecting it made garbage collection several times costlier on a large catalogue.
 * The buffer's bound, shedding and batching are the recorder's (impression-recorder.ts), in
 * the thread; what it reports comes back with every answer and once a second.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { startTsWorker } from '../../models/ts-worker.ts';
import type { Impression } from '../serving/types.ts';
import type { DatabaseConfig } from '../store/open-store.ts';
import type { FeedbackCounters } from './feedback-counters.ts';
import type { ImpressionLog, RecorderStats } from './impression-recorder.ts';
import { encode, FIELDS } from './impression-wire.ts';
import type { Wire } from './impression-wire.ts';

export interface ImpressionThreadOptions {
  database: DatabaseConfig;
  log: Logger;
  counters?: FeedbackCounters;
  /** Impressions held at most (in the outbox and the thread's buffer together). */
  capacity: number;
  /** How often the outbox goes to the thread, ms. @defaultValue 50 */
  handOffMs?: number;
}

/** What the writer thread is given at start. */
export interface WriterData {
  database: DatabaseConfig;
  capacity: number;
  logLevel: string;
}

export type ToWriter = { kind: 'record'; lists: Wire } | { kind: 'flush' | 'close'; id: number };

export type FromWriter =
  { kind: 'stats'; stats: RecorderStats } | { kind: 'done'; id: number; stats: RecorderStats };

/**
 * On SQLite, checkpoints (the write-ahead log folded back into the database file) are the
 * writer thread's work: every second, and at its commits past 40 MB of log. At SQLite's default
 * of 1,000 pages (4 MB of 4 KB pages) nearly every batch of lists paid for one (measured on 600k
 * lists of 100k visitors: 57 µs a list written, 9–18 µs with the larger log). The serving
 * thread's connection checkpoints only should the log pass 400 MB (the thread gone).
 */
export function checkpointsFor(db: DatabaseConfig, who: 'writer' | 'serving'): DatabaseConfig {
  if (db.kind !== 'sqlite') return db;
  return {
    ...db,
    checkpoints: who === 'writer' ? { autoMb: 40, everyMs: 1000 } : { autoMb: 400 },
  };
}

/** The outbox goes at once when this long (a burst), else on the timer. */
const HAND_OFF_AT = 1000;
const NONE: RecorderStats = { recorded: 0, written: 0, dropped: 0, pending: 0 };

export class ImpressionThread implements ImpressionLog {
  /** The lists not yet handed over, `FIELDS` values each. */
  private outbox: Wire = [];
  /**
   * Each list's ids as JSON, made once: a list cache hit hands over the same array of ids
   * (engine.ts), so a hit's list costs a lookup here, not a JSON.stringify.
   */
  private readonly idsJson = new WeakMap<readonly string[], string>();
  private readonly worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private recorded = 0;
  /** Shed here: the thread gone, or closed. */
  private shedHere = 0;
  private thread: RecorderStats = NONE;
  private readonly waiting = new Map<number, () => void>();
  private lastId = 0;
  private closed = false;
  private failed: Error | null = null;

  private constructor(private readonly o: ImpressionThreadOptions) {
    const data: WriterData = {
      database: checkpointsFor(o.database, 'writer'),
      capacity: o.capacity,
      logLevel: o.log.level,
    };
    this.worker = startTsWorker(new URL('./impression-writer.ts', import.meta.url), data);
    this.worker.on('message', (m: FromWriter) => this.heard(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the impression writer thread exited with code ${code}`));
    });
    this.timer = setInterval(() => this.handOff(), o.handOffMs ?? 50).unref();
  }

  /** Starts the thread; resolves once it has opened the store. */
  static async start(o: ImpressionThreadOptions): Promise<ImpressionThread> {
    const t = new ImpressionThread(o);
    await t.ask('flush');
    if (t.failed) {
      const why = t.failed.message || t.failed.name || String(t.failed);
      throw new Error(`the impression writer thread could not start: ${why}`, { cause: t.failed });
    }
    return t;
  }

  readonly record = (i: Impression): void => {
    this.recorded++;
    this.o.counters?.impression(i.tier);
    if (this.closed || this.failed || this.held + this.thread.pending >= this.o.capacity) {
      this.shed(1);
      return;
    }
    let json = this.idsJson.get(i.itemIds);
    if (json === undefined) {
      json = JSON.stringify(i.itemIds);
      this.idsJson.set(i.itemIds, json);
    }
    encode(this.outbox, i, json);
    if (this.held >= HAND_OFF_AT) this.handOff();
  };

  /** Lists in the outbox. */
  private get held(): number {
    return this.outbox.length / FIELDS;
  }

  get stats(): RecorderStats {
    return {
      recorded: this.recorded,
      written: this.thread.written,
      dropped: this.thread.dropped + this.shedHere,
      pending: this.held + this.thread.pending,
    };
  }

  flush(): Promise<void> {
    this.handOff();
    return this.ask('flush');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.handOff();
    await this.ask('close');
    this.closed = true;
    await this.worker.terminate();
  }

  private handOff(): void {
    if (!this.outbox.length || this.failed) return;
    this.worker.postMessage({ kind: 'record', lists: this.outbox } satisfies ToWriter);
    this.outbox = [];
  }

  private ask(kind: 'flush' | 'close'): Promise<void> {
    if (this.failed) return Promise.resolve();
    const id = ++this.lastId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ kind, id } satisfies ToWriter);
    });
  }

  private heard(m: FromWriter): void {
    if (this.o.counters) this.o.counters.dropped += m.stats.dropped - this.thread.dropped;
    this.thread = m.stats;
    if (m.kind === 'done') {
      this.waiting.get(m.id)?.();
      this.waiting.delete(m.id);
    }
  }

  /** The thread is gone: what it held is lost (counted), later lists are shed; nobody waits. */
  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.shed(this.held + this.thread.pending);
    this.outbox = [];
    this.o.log.error({ err }, 'the impression writer thread failed: impressions are shed from now on');
    for (const resolve of this.waiting.values()) resolve();
    this.waiting.clear();
  }

  private shed(n: number): void {
    this.shedHere += n;
    if (this.o.counters) this.o.counters.dropped += n;
  }
}
