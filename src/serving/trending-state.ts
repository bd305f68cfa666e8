/**
 * Real-time popularity as serving reads it. The counters live in the real-time state
 * (src/realtime/trending-counters.ts: in memory, or in Redis shared by every replica, capped per
 * visitor, never scored from the future); this mirrors them into the served catalogue's item
 * space (`Served.trending`, a `TrendingModel`), so that a request ranks without a round trip.
 *
 * - At the first swap the store's window is counted into the counters, by the first replica
 *   only (`claimSeed`), with the per-visitor cap applied while reading it, then read whole.
 * - Events ingested here are counted and the changes read before `ingest` returns, so the
 *   next request sees them. With Redis, a request also starts a read of what other replicas
 *   counted, at most once a second and never awaited: replicas rank alike within about a second.
 * - A newly swapped `Served` is filled from the mirror (item id → score) on its first request.
 */
import type { Logger } from 'pino';
import { SparseWarning } from '../sparse-warning.ts';
import { TrendingModel } from '../../models/trending.ts';
import { DEFAULT_TRENDING } from '../realtime/trending-counters.ts';
import type { Engagement, TrendingCounters, TrendingRead } from '../realtime/trending-counters.ts';
import { subjectKey } from '../realtime/types.ts';
import { OncePerPeriod, VISIT } from '../store/engagement-cap.ts';
import { engagementWeights } from '../store/event-weights.ts';
import type { EventType, ShelfEvent, Store } from '../store/types.ts';
import type { Catalog } from './catalog.ts';

/** How much an event says about an item's popularity right now: the engagement of the one weight table. */
export const TRENDING_WEIGHTS: Partial<Record<EventType, number>> = engagementWeights();
/**
 * Trending remembers about a week; the window read at start covers several half-lives; an item
 * trends from its third visit.
 */
export const TRENDING_HALF_LIFE_MS = DEFAULT_TRENDING.halfLifeMs;
export const TRENDING_WINDOW_MS = DEFAULT_TRENDING.windowMs;
/** Segment lists are scored as storefront trending is (segments/segment-trending.ts). */
export const SEGMENT_TRENDING = Object.freeze({
  weights: TRENDING_WEIGHTS,
  halfLifeMs: TRENDING_HALF_LIFE_MS,
  windowMs: TRENDING_WINDOW_MS,
  minVisitors: DEFAULT_TRENDING.minVisitors,
});
/** Room for items added after load (beyond it they get no trending score until the next swap). */
const TRENDING_HEADROOM = 1.25;
/** A request starts a read of the shared counters' changes at most this often. */
const READ_EVERY_MS = 1000;
/** How long a replica that did not claim the seed waits for it to be counted, at most. */
const SEED_WAIT_MS = 30_000;
/** Events counted per call while seeding. */
const SEED_BATCH = 5000;
/** The mirror's reference time moves once a read is this many half-lives past it. */
const REBASE_HALF_LIVES = 64;

/** An empty counter over `catalog`'s item space (filled by `TrendingState`). */
/** What the counters fill: a served version's catalogue and trending model (`Served`). */
interface Counted {
  readonly catalog: Catalog;
  readonly trending: TrendingModel;
}

export function emptyTrending(catalog: Catalog): TrendingModel {
  return new TrendingModel({
    items: Math.ceil(catalog.size * TRENDING_HEADROOM) + 64,
    halfLifeMs: TRENDING_HALF_LIFE_MS,
  });
}

/** What an event adds to trending (null: nothing), its visitor the user or the session. */
export function engagementOf(e: ShelfEvent): Engagement | null {
  const weight = TRENDING_WEIGHTS[e.type];
  if (!weight) return null;
  const visitor =
    e.userId !== undefined
      ? subjectKey({ userId: e.userId })
      : e.sessionId !== undefined
        ? subjectKey({ sessionId: e.sessionId })
        : `e:${e.eventId}`;
  return { visitor, itemId: e.itemId, type: e.type, timestamp: e.timestamp, weight };
}

/**
 * Counts a window's events (in time order) into `counters`, each (visitor, item, type) once per
 * day, each marked whether it is its visitor's visit of the item that day: what the first
 * replica does at its first swap (`TrendingState`), and what the train job's tuning does from
 * its snapshot (training/cutoff-setup.ts) instead of reading the window back. Then, even when
 * counting failed, marks the seed counted: a replica starting beside this one waits for that.
 */
export async function seedTrending(
  counters: TrendingCounters,
  events: AsyncIterable<ShelfEvent> | Iterable<ShelfEvent>,
  now: number,
): Promise<void> {
  try {
    await countWindow(counters, events, now);
  } finally {
    await counters.seedDone();
  }
}

async function countWindow(
  counters: TrendingCounters,
  events: AsyncIterable<ShelfEvent> | Iterable<ShelfEvent>,
  now: number,
): Promise<void> {
  const cap = new OncePerPeriod();
  let batch: Engagement[] = [];
  for await (const e of events) {
    const g = engagementOf(e);
    if (!g) continue;
    // Clamped as the counters clamp, so that the cap's days agree with theirs.
    const ts = Math.min(g.timestamp, now);
    if (!cap.first(g.visitor, g.itemId, g.type, ts)) continue;
    g.visit = cap.first(g.visitor, g.itemId, VISIT, ts);
    batch.push(g);
    if (batch.length >= SEED_BATCH) {
      await counters.seed(batch, now);
      batch = [];
    }
  }
  if (batch.length) await counters.seed(batch, now);
}

export interface TrendingStateOptions {
  counters: TrendingCounters;
  /** Where the window is read from when this replica seeds the counters. */
  store: Pick<Store, 'streamEvents'>;
  log: Logger;
  now: () => number;
}

export class TrendingState {
  /** Item id → score at `ref`; its score at t is that times 2^((ref − t) / halfLife). */
  private readonly mirror = new Map<string, number>();
  private ref: number | null = null;
  private cursor: number | null = null;
  /** The `Served` whose counters follow the mirror. */
  private attached: Counted | null = null;
  /** Versions served beside the current one (an experiment variant's `modelVersion`), kept current too. */
  private readonly side = new Set<Counted>();
  private started: Promise<void> | null = null;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  /** `performance.now()` of the last read a request started. */
  private lastRead = Number.NEGATIVE_INFINITY;

  // The counters are in Redis with REDIS_URL: down, every request and event batch failed alike.
  private readonly unread: SparseWarning;
  private readonly unwritten: SparseWarning;

  constructor(private readonly o: TrendingStateOptions) {
    this.unread = new SparseWarning(o.log, 'trending counters could not be read');
    this.unwritten = new SparseWarning(o.log, 'trending counters could not be updated');
  }

  /** Seeds the counters when this replica is the first, then reads them whole; once (again after a failure). */
  start(): Promise<void> {
    this.started ??= (async () => {
      const now = this.o.now();
      // One replica counts the store's window; one starting beside it waits for that, or it
      // would serve half a seed until its next read (seen with two replicas on a busy machine).
      if (await this.o.counters.claimSeed()) await this.seed(now);
      else await this.o.counters.seedCounted(SEED_WAIT_MS);
      this.cursor = null;
      await this.pull();
    })().catch((err: unknown) => {
      this.started = null;
      throw err;
    });
    return this.started;
  }

  /**
   * Makes `s.trending` follow the mirror (filled on first sight) and, for counters shared
   * through Redis, starts a read of their changes at most once a second. Never waits.
   */
  serve(s: Counted): void {
    if (this.attached !== s) this.attach(s);
    if (this.o.counters.readNow) return; // in this process: only this engine writes them
    const t = performance.now();
    if (t - this.lastRead < READ_EVERY_MS) return;
    this.lastRead = t;
    this.pull().catch((err: unknown) => this.unread.say(err));
  }

  /** Counts stored events, then reads the changes: the next request ranks with them. */
  async ingest(events: readonly ShelfEvent[]): Promise<void> {
    const engaged = events.flatMap((e) => engagementOf(e) ?? []);
    if (!engaged.length) return;
    try {
      await this.o.counters.add(engaged, this.o.now());
      await this.pull();
    } catch (err) {
      // The events are stored; trending catches up at the next read.
      this.unwritten.say(err);
    }
  }

  /** Counts the store's window into the counters. */
  private async seed(now: number): Promise<void> {
    await seedTrending(this.o.counters, this.o.store.streamEvents({ from: now - TRENDING_WINDOW_MS }), now);
  }

  /** Reads the counters' changes since the last read, one read at a time (a caller joins the next one). */
  private pull(): Promise<void> {
    this.queued ??= (this.running ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        const run = this.read();
        this.running = run;
        return run.finally(() => {
          if (this.running === run) this.running = null;
        });
      });
    return this.queued;
  }

  private async read(): Promise<void> {
    const at = this.o.now();
    const c = this.o.counters;
    this.apply(c.readNow ? c.readNow(at, this.cursor) : await c.read(at, this.cursor), at);
  }

  private apply(read: TrendingRead, at: number): void {
    const hl = TRENDING_HALF_LIFE_MS;
    if (this.ref === null) this.ref = at;
    if ((at - this.ref) / hl > REBASE_HALF_LIVES) {
      const f = 2 ** ((this.ref - at) / hl);
      for (const [itemId, v] of this.mirror) this.mirror.set(itemId, v * f);
      this.ref = at;
    }
    const targets = this.attached ? [this.attached, ...this.side] : [...this.side];
    if (read.full) {
      for (const itemId of this.mirror.keys()) {
        if (read.scores.has(itemId)) continue;
        this.mirror.delete(itemId);
        for (const s of targets) setScore(s, itemId, at, 0);
      }
    }
    const toRef = 2 ** ((at - this.ref) / hl);
    for (const [itemId, score] of read.scores) {
      this.mirror.set(itemId, score * toRef);
      for (const s of targets) setScore(s, itemId, at, score);
    }
    this.cursor = read.cursor;
  }

  private attach(s: Counted): void {
    this.attached = s;
    this.fill(s);
  }

  /** Keeps `s` (a version served beside the current one) filled from the mirror until `unfollow`. */
  follow(s: Counted): void {
    if (this.side.has(s)) return;
    this.side.add(s);
    this.fill(s);
  }

  unfollow(s: Counted): void {
    this.side.delete(s);
  }

  private fill(s: Counted): void {
    if (this.ref === null) return;
    for (const [itemId, v] of this.mirror) setScore(s, itemId, this.ref, v);
  }
}

function setScore(s: Counted, itemId: string, at: number, score: number): void {
  const i = s.catalog.indexOf(itemId);
  if (i !== undefined && i < s.trending.items) s.trending.setScore(i, at, score);
}
