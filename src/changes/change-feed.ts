/**
 * The one change feed: what every replica applies within a second (items changed, a user erased
 * or changed, a version made current). A change is appended to the store's log first, which
 * gives it a gap-free sequence; each process applies the log in order from where it stands. So
 * a message can be lost without harm: the log is read again when a process is told it grew
 * (the signal: Redis pub/sub with `REDIS_URL`), on a poll (the safety net, and in embedded mode
 * how a command-line process reaches the server), at start and after a reconnect. A change
 * published here is applied here before `publish` returns (a client reads its own writes).
 */
import type { Logger } from 'pino';
import type { Change, ShelfEvent, Store } from '../store/types.ts';

/** Applies a page of changes, in order; handles its own errors (a change is applied once). */
export type ChangeHandler = (changes: readonly Change[]) => Promise<void>;

/** How processes tell each other that the log grew (a nudge: the log itself is the truth). */
export interface ChangeSignal {
  announce(seq: number): Promise<void>;
  /** Calls `onSeq` on every announcement and `onReconnect` after the connection came back. */
  listen(onSeq: (seq: number) => void, onReconnect: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface ChangeFeedOptions {
  store: Pick<Store, 'appendChanges' | 'changesSince' | 'lastChangeSeq' | 'pruneChanges'>;
  signal?: ChangeSignal | null;
  /** How often the log is read without a signal, ms; 0: never. */
  pollMs: number;
  /**
   * How long changes stay in the log, ms: older ones are deleted at start and hourly (a server
   * does this; a process starting reads from the newest seq, so only one running that long
   * without reaching the store would miss any). Absent: never.
   */
  retainMs?: number;
  log: Logger;
  now?: () => number;
}

/**
 * The change that has every replica read these events' visitors again (history, kept-out
 * items): their users, and the sessions of the events without one, each once.
 */
export function visitorsOf(events: readonly ShelfEvent[]): Change {
  const userIds = new Set<string>();
  const sessionIds = new Set<string>();
  for (const e of events) {
    if (e.userId !== undefined) userIds.add(e.userId);
    else if (e.sessionId !== undefined) sessionIds.add(e.sessionId);
  }
  return { kind: 'visitors', userIds: [...userIds], sessionIds: [...sessionIds] };
}

/** Changes read per page when catching up. */
const PAGE = 500;
const HOUR = 3_600_000;

export class ChangeFeed {
  private applied = 0;
  private started = false;
  private readonly handlers: ChangeHandler[] = [];
  /** Catch-ups run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly o: ChangeFeedOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Adds a handler (before `start`). */
  on(handler: ChangeHandler): void {
    this.handlers.push(handler);
  }

  /** The newest seq applied here. */
  get seq(): number {
    return this.applied;
  }

  /**
   * Starts from the log's newest seq: call it before state is loaded from the store, so that a
   * change made while loading is applied after it rather than lost.
   */
  async start(): Promise<void> {
    this.applied = await this.o.store.lastChangeSeq();
    this.started = true;
    await this.o.signal?.listen(
      (seq) => {
        if (seq > this.applied) void this.catchUp();
      },
      () => void this.catchUp(),
    );
    if (this.o.pollMs > 0) this.timer = setInterval(() => void this.catchUp(), this.o.pollMs).unref();
    if (this.o.retainMs !== undefined) {
      await this.prune();
      this.pruneTimer = setInterval(() => void this.prune(), HOUR).unref();
    }
  }

  /** Deletes the changes older than the retention (not the newest). */
  private async prune(): Promise<void> {
    try {
      const pruned = await this.o.store.pruneChanges(this.now() - this.o.retainMs!);
      if (pruned) this.o.log.info({ pruned }, 'change feed: old changes deleted from the log');
    } catch (err) {
      this.o.log.warn({ err }, 'change feed: pruning the log failed');
    }
  }

  /** Appends `changes` to the log, applies them here and tells the other processes. */
  async publish(changes: readonly Change[]): Promise<void> {
    if (!changes.length) return;
    const seq = await this.o.store.appendChanges(changes, this.now());
    if (this.started) await this.catchUp();
    await this.o.signal
      ?.announce(seq)
      .catch((err: unknown) => this.o.log.warn({ err, seq }, 'change feed: announce failed (replicas poll)'));
  }

  /** Applies every change after the newest applied one (queued behind a running catch-up). */
  catchUp(): Promise<void> {
    this.queue = this.queue.then(
      () => this.readAll(),
      () => this.readAll(),
    );
    return this.queue;
  }

  private async readAll(): Promise<void> {
    if (!this.started) return;
    try {
      for (;;) {
        const page = await this.o.store.changesSince(this.applied, PAGE);
        if (!page.length) return;
        const changes = page.map((c) => c.change);
        for (const h of this.handlers) await h(changes);
        this.applied = page[page.length - 1]!.seq;
        if (page.length < PAGE) return;
      }
    } catch (err) {
      // The store did not answer: the next signal or poll tries again from the same seq.
      this.o.log.warn({ err, seq: this.applied }, 'change feed: catching up failed');
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.timer = this.pruneTimer = null;
    this.started = false;
    await this.queue;
    await this.o.signal?.close();
  }
}
