/** Rotation streaks in this process (embedded mode): a bounded LRU map of visitor → item → streak. */
import type { RotationPolicy, Streak } from './rotation.ts';
import { afterShow } from './rotation.ts';
import type { RotationState, Subject } from './types.ts';
import { subjectKey } from './types.ts';

const NONE: ReadonlySet<string> = new Set();

export class MemoryRotation implements RotationState {
  /** Insertion order is recency: a write re-inserts the visitor. */
  private readonly visitors = new Map<string, Map<string, Streak>>();

  constructor(
    readonly policy: RotationPolicy,
    private readonly maxVisitors = 1_000_000,
  ) {}

  async shown(subject: Subject, itemIds: readonly string[], at: number): Promise<void> {
    if (this.policy.shows <= 0) return;
    const key = subjectKey(subject);
    const streaks = this.visitors.get(key) ?? new Map<string, Streak>();
    this.visitors.delete(key);
    for (const id of itemIds) streaks.set(id, afterShow(streaks.get(id), at, this.policy));
    // Streaks past both their window and their demotion are dropped, so a visitor's map stays small.
    for (const [id, s] of streaks) {
      if (s.until <= at && at - s.since > this.policy.windowMs) streaks.delete(id);
    }
    this.visitors.set(key, streaks);
    if (this.visitors.size > this.maxVisitors) this.visitors.delete(this.visitors.keys().next().value!);
  }

  async engaged(subject: Subject, itemIds: readonly string[]): Promise<void> {
    const streaks = this.visitors.get(subjectKey(subject));
    for (const id of itemIds) streaks?.delete(id);
  }

  async demoted(subject: Subject, at: number): Promise<ReadonlySet<string>> {
    return this.demotedNow(subject, at);
  }

  demotedNow(subject: Subject, at: number): ReadonlySet<string> {
    const streaks = this.visitors.get(subjectKey(subject));
    if (!streaks) return NONE;
    let out: Set<string> | null = null;
    for (const [id, s] of streaks) if (s.until > at) (out ??= new Set()).add(id);
    return out ?? NONE;
  }

  async merge(sessionId: string, userId: string): Promise<void> {
    const from = this.visitors.get(subjectKey({ sessionId }));
    if (!from) return;
    this.visitors.delete(subjectKey({ sessionId }));
    const to = this.visitors.get(subjectKey({ userId })) ?? new Map<string, Streak>();
    for (const [id, s] of from) if (!to.has(id) || to.get(id)!.until < s.until) to.set(id, s);
    this.visitors.set(subjectKey({ userId }), to);
  }

  async forget(subject: Subject): Promise<void> {
    this.visitors.delete(subjectKey(subject));
  }
}
