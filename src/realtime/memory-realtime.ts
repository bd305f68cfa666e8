import { MemoryRotation } from './memory-rotation.ts';
import { MemoryTrending } from './memory-trending.ts';
import type { RotationPolicy } from './rotation.ts';
import { DEFAULT_ROTATION } from './rotation.ts';
import type { TrendingCountersOptions } from './trending-counters.ts';
import { DEFAULT_TRENDING } from './trending-counters.ts';
import type { RealtimeState, RecentEvent, Subject } from './types.ts';
import { subjectKey } from './types.ts';

const NO_EVENTS: readonly RecentEvent[] = Object.freeze([]);

export interface MemoryRealtimeOptions {
  /** Events kept per user or session. @defaultValue 50 */
  capacity?: number;
  /** Subjects kept; the least recently written is dropped first. @defaultValue 1_000_000 */
  maxSubjects?: number;
  /** Trending's half-life and window. @defaultValue `DEFAULT_TRENDING` */
  trending?: TrendingCountersOptions;
  /** @defaultValue `DEFAULT_ROTATION` */
  rotation?: RotationPolicy;
}

/** The embedded real-time state: a bounded LRU map of subject → newest events, and trending counters. */
export class MemoryRealtime implements RealtimeState {
  readonly trending: MemoryTrending;
  readonly rotation: MemoryRotation;
  private readonly capacity: number;
  private readonly maxSubjects: number;
  /** Insertion order of a Map is its LRU order: a write deletes and re-inserts the key. */
  private readonly subjects = new Map<string, RecentEvent[]>();

  constructor(options: MemoryRealtimeOptions = {}) {
    this.capacity = options.capacity ?? 50;
    this.maxSubjects = options.maxSubjects ?? 1_000_000;
    this.trending = new MemoryTrending(options.trending ?? DEFAULT_TRENDING);
    this.rotation = new MemoryRotation(options.rotation ?? DEFAULT_ROTATION, this.maxSubjects);
  }

  async record(subject: Subject, events: readonly RecentEvent[]): Promise<void> {
    this.put(subjectKey(subject), events);
  }

  async recent(subject: Subject, limit = this.capacity): Promise<readonly RecentEvent[]> {
    return this.recentNow(subject, limit);
  }

  recentNow(subject: Subject, limit = this.capacity): readonly RecentEvent[] {
    // The stored array itself when it is all asked for (every list-cache hit): `put` replaces
    // a visitor's array, never changes one.
    const events = this.subjects.get(subjectKey(subject)) ?? NO_EVENTS;
    return events.length <= limit ? events : events.slice(0, limit);
  }

  async mergeSession(sessionId: string, userId: string): Promise<void> {
    await this.rotation.merge(sessionId, userId);
    const key = subjectKey({ sessionId });
    const moved = this.subjects.get(key);
    if (!moved) return;
    this.subjects.delete(key);
    this.put(subjectKey({ userId }), moved);
  }

  async forget(subject: Subject): Promise<void> {
    await this.rotation.forget(subject);
    this.subjects.delete(subjectKey(subject));
  }

  async erase(subject: Subject): Promise<void> {
    await this.forget(subject);
    this.trending.forgetVisitor(subjectKey(subject));
  }

  async close(): Promise<void> {
    this.subjects.clear();
  }

  private put(key: string, events: readonly RecentEvent[]): void {
    // The same event recorded twice (history warmed from the store after it arrived) is kept
    // once, as Redis's sorted set keeps one member.
    const seen = new Set<string>();
    const merged = [...(this.subjects.get(key) ?? []), ...events]
      .filter((e) => {
        const id = `${e.timestamp}\u0000${e.type}\u0000${e.itemId}`;
        return !seen.has(id) && seen.add(id);
      })
      .sort((a, b) => b.timestamp - a.timestamp)
      .slice(0, this.capacity);
    this.subjects.delete(key);
    this.subjects.set(key, merged);
    if (this.subjects.size > this.maxSubjects) {
      this.subjects.delete(this.subjects.keys().next().value as string);
    }
  }
}
