/**
 * Rotation: an item shown to the same visitor `shows` times within `windowMs` without their
 * engaging with it (a click, an add-to-cart, a purchase) is demoted — its score multiplied by
 * `factor` — for `forMs`, so feeds do not repeat themselves (the complaint Gorse users file
 * most). Each (visitor, item) keeps one streak; memory-rotation.ts and redis-rotation.ts hold
 * them (`RotationState` in types.ts), the same rules in `afterShow`.
 */

export interface RotationPolicy {
  /** Shows without engagement that demote an item; 0: rotation off. */
  shows: number;
  windowMs: number;
  /** Score multiplier while demoted. */
  factor: number;
  forMs: number;
}

export const DEFAULT_ROTATION: RotationPolicy = {
  shows: 3,
  windowMs: 24 * 3_600_000,
  factor: 0.3,
  forMs: 3 * 24 * 3_600_000,
};

/** A visitor's streak with one item: `n` shows since `since`; demoted until `until` (epoch ms). */
export interface Streak {
  n: number;
  since: number;
  until: number;
}

/** The streak after one more show at `at`. */
export function afterShow(s: Streak | undefined, at: number, p: RotationPolicy): Streak {
  // A show while demoted does not count; a streak older than the window starts again.
  if (s && at < s.until) return s;
  const fresh = !s || at - s.since > p.windowMs;
  const n = fresh ? 1 : s.n + 1;
  const since = fresh ? at : s.since;
  return n >= p.shows ? { n: 0, since: at, until: at + p.forMs } : { n, since, until: s?.until ?? 0 };
}
