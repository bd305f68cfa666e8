/**
 * Rotation streaks in this process (embedded mode): a bounded LRU map of visitor → item → streak,
 * rebuilt from the stored lists at a visitor's first sight after a start (`restore`).
 */
import type { RotationPolicy, Streak } from './rotation.ts';
import { afterShow } from './rotation.ts';
import type { RotationHistory, RotationState, Subject } from './types.ts';
import { subjectKey } from './types.ts';

const NONE: ReadonlySet<string> = new Set();
/** How often a visitor's lapsed streaks are dropped, ms of the shows' clock. */
const PRUNE_EVERY_MS = 60_000;

/** One visitor's streaks, and what every request reads of them: the items demoted now. */
interface Visitor {
  streaks: Map<string, Streak>;
  /** The demoted items as last read (null: a show or an engagement changed them since). */
  demoted: ReadonlySet<string> | null;
  /** When that read was made, and when its first demotion lapses: it holds in between. */
  readAt: number;
  lapsesAt: number;
  prunedAt: number;
}

export class MemoryRotation implements RotationState {
  /** Insertion order is recency: a write re-inserts the visitor. */
  private readonly visitors = new Map<string, Visitor>();

  constructor(
    readonly policy: RotationPolicy,
    private readonly maxVisitors = 1_000_000,
  ) {}

  async shown(subject: Subject, itemIds: readonly string[], at: number): Promise<void> {
    if (this.policy.shows <= 0) return;
    const key = subjectKey(subject);
    const v = this.visitors.get(key) ?? newVisitor();
    this.visitors.delete(key);
    this.show(v, itemIds, at);
    this.keep(key, v);
  }

  async restore(subject: Subject, read: () => Promise<RotationHistory>): Promise<void> {
    const key = subjectKey(subject);
    if (this.policy.shows <= 0 || this.visitors.has(key)) return;
    const { lists, engaged } = await read();
    // Something of theirs arrived while the store was read: it is newer than what was read.
    if (this.visitors.has(key) || !lists.length) return;
    const v = newVisitor();
    let e = 0;
    for (const list of lists) {
      // An engagement at the time of a list came after it (a click on what was shown).
      for (; e < engaged.length && engaged[e]!.at < list.at; e++) v.streaks.delete(engaged[e]!.itemId);
      this.show(v, list.itemIds, list.at);
    }
    for (; e < engaged.length; e++) v.streaks.delete(engaged[e]!.itemId);
    this.keep(key, v);
  }

  private show(v: Visitor, itemIds: readonly string[], at: number): void {
    for (const id of itemIds) {
      const before = v.streaks.get(id);
      const after = afterShow(before, at, this.policy);
      // Only a new demotion changes what is demoted (a show while demoted keeps its streak).
      if (after.until !== (before?.until ?? 0)) v.demoted = null;
      v.streaks.set(id, after);
    }
    // Streaks past both their window and their demotion are dropped, so a visitor's map stays
    // small: once a minute, not at every list (the map holds every item shown within days).
    if (at - v.prunedAt >= PRUNE_EVERY_MS || at < v.prunedAt) {
      for (const [id, s] of v.streaks) {
        if (s.until <= at && at - s.since > this.policy.windowMs) v.streaks.delete(id);
      }
      v.prunedAt = at;
    }
  }

  /** `v` as the most recently written visitor (the least recent goes past the bound). */
  private keep(key: string, v: Visitor): void {
    this.visitors.set(key, v);
    if (this.visitors.size > this.maxVisitors) this.visitors.delete(this.visitors.keys().next().value!);
  }

  async engaged(subject: Subject, itemIds: readonly string[]): Promise<void> {
    const v = this.visitors.get(subjectKey(subject));
    if (!v) return;
    for (const id of itemIds) if (v.streaks.delete(id)) v.demoted = null;
  }

  async demoted(subject: Subject, at: number): Promise<ReadonlySet<string>> {
    return this.demotedNow(subject, at);
  }

  /** Read at every personalized request: the last answer again until something changed it. */
  demotedNow(subject: Subject, at: number): ReadonlySet<string> {
    const v = this.visitors.get(subjectKey(subject));
    if (!v) return NONE;
    if (v.demoted && at >= v.readAt && at < v.lapsesAt) return v.demoted;
    let out: Set<string> | null = null;
    let lapsesAt = Infinity;
    for (const [id, s] of v.streaks) {
      if (s.until <= at) continue;
      (out ??= new Set()).add(id);
      lapsesAt = Math.min(lapsesAt, s.until);
    }
    v.demoted = out ?? NONE;
    v.readAt = at;
    v.lapsesAt = lapsesAt;
    return v.demoted;
  }

  async merge(sessionId: string, userId: string): Promise<void> {
    const from = this.visitors.get(subjectKey({ sessionId }));
    if (!from) return;
    this.visitors.delete(subjectKey({ sessionId }));
    const to = this.visitors.get(subjectKey({ userId })) ?? newVisitor();
    for (const [id, s] of from.streaks) {
      if (!to.streaks.has(id) || to.streaks.get(id)!.until < s.until) to.streaks.set(id, s);
    }
    to.demoted = null;
    this.visitors.set(subjectKey({ userId }), to);
  }

  async forget(subject: Subject): Promise<void> {
    this.visitors.delete(subjectKey(subject));
  }
}

function newVisitor(): Visitor {
  return { streaks: new Map(), demoted: null, readAt: 0, lapsesAt: 0, prunedAt: Number.NEGATIVE_INFINITY };
}
