/**
 * Real-time state: each user's and session's most recent events, so that serving can fold in
 * what a visitor did a second ago before any retraining, and the trending counters. In memory in embedded mode; Redis
 * implements the same interface when `REDIS_URL` is set.
 */
import type { EventType, ShownList, Subject } from '../store/types.ts';
import type { RotationPolicy } from './rotation.ts';
import type { TrendingCounters } from './trending-counters.ts';

export interface RecentEvent {
  itemId: string;
  type: EventType;
  /** Epoch ms. */
  timestamp: number;
}

export type { Subject };

export interface RealtimeState {
  /** Engagement per item over the window, capped per visitor (trending-counters.ts). */
  readonly trending: TrendingCounters;
  /** What each visitor was shown without engaging (rotation.ts). */
  readonly rotation: RotationState;
  /** Records events (any order); keeps the newest `capacity` per subject. */
  record(subject: Subject, events: readonly RecentEvent[]): Promise<void>;
  /** Newest first. */
  recent(subject: Subject, limit?: number): Promise<readonly RecentEvent[]>;
  /** `recent` without a promise, where the state is in this process (serving's hot path). */
  recentNow?(subject: Subject, limit?: number): readonly RecentEvent[];
  /** Moves a session's events (and rotation streaks) to the user (login). */
  mergeSession(sessionId: string, userId: string): Promise<void>;
  /** Forgets a subject's events and rotation streaks (consent withdrawn). */
  forget(subject: Subject): Promise<void>;
  /**
   * Right to deletion: `forget`, and any id of the subject trending's cap holds. Not on consent
   * withdrawn: a visitor could then reset its own cap and count again.
   */
  erase(subject: Subject): Promise<void>;
  close(): Promise<void>;
}

export function subjectKey(s: Subject): string {
  return 'userId' in s ? `u:${s.userId}` : `s:${s.sessionId}`;
}

/** Rotation's streaks (rotation.ts): what each visitor was shown without engaging. */
/** What rotation replays: lists shown and engagements, each oldest first. */
export interface RotationHistory {
  lists: readonly ShownList[];
  engaged: readonly { itemId: string; at: number }[];
}

export interface RotationState {
  readonly policy: RotationPolicy;
  /** Records that `itemIds` were shown to `subject` at `at`. */
  shown(subject: Subject, itemIds: readonly string[], at: number): Promise<void>;
  /** The visitor engaged with these items: their streaks end. */
  engaged(subject: Subject, itemIds: readonly string[]): Promise<void>;
  /** The items demoted for `subject` at `at`. */
  demoted(subject: Subject, at: number): Promise<ReadonlySet<string>>;
  /** `demoted` without a promise, where the state is in this process. */
  demotedNow?(subject: Subject, at: number): ReadonlySet<string>;
  /**
   * Where the state lives in this process (embedded mode) and so began empty at its start: the
   * visitor's streaks rebuilt from the lists they were shown and the items they engaged with
   * (time order), read by `read` only when this process holds nothing for them yet.
   */
  restore?(subject: Subject, read: () => Promise<RotationHistory>): Promise<void>;
  /** A login: the session's streaks become the user's. */
  merge(sessionId: string, userId: string): Promise<void>;
  forget(subject: Subject): Promise<void>;
}
