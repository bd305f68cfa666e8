/**
 * The newest split of a store snapshot: the last `testFraction` of events (in time) are test.
 * Unlike the dataset protocol's re-indexed split, it keeps the snapshot's user and item
 * indexes, so a model fitted on the train part is the same shape as one fitted on everything
 * and any published version can be scored on it through the id maps.
 */
import type { EvalTargets } from './evaluate.ts';
import type { WeightOptions } from './interaction-weights.ts';
import type { Snapshot } from './snapshot.ts';
import { EVENT_TYPES } from '../src/store/types.ts';

export interface Holdout extends EvalTargets {
  /** Events [0, cutoffIndex) are train, the rest test. */
  cutoffIndex: number;
  /** Epoch ms of the first test event. */
  cutoffTime: number;
}

/** The newest split: the last `testFraction` of the events (never splitting equal timestamps). */
export function newestSplit(s: Snapshot, weights: WeightOptions, testFraction = 0.1): Holdout {
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError('testFraction must be in (0, 1)');
  let cutoffIndex = Math.floor(s.length * (1 - testFraction));
  while (cutoffIndex > 0 && s.timestamps[cutoffIndex - 1] === s.timestamps[cutoffIndex]) cutoffIndex--;
  return holdoutAt(s, weights, cutoffIndex);
}

/** Train = events before `cutoff` (epoch ms), test = events at or after it. */
export function cutoffSplit(s: Snapshot, weights: WeightOptions, cutoff: number): Holdout {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.timestamps[mid]! < cutoff) lo = mid + 1;
    else hi = mid;
  }
  return holdoutAt(s, weights, lo);
}

/**
 * Truth = the distinct items a test user interacted with positively (an event type of positive
 * weight) in the test part, that have train data and that the user did not touch in train.
 * Test users = users with train events and non-empty truth.
 */
export function holdoutAt(s: Snapshot, weights: WeightOptions, cutoffIndex: number): Holdout {
  const positive = Uint8Array.from(EVENT_TYPES, (t) => (weights.weights[t] > 0 ? 1 : 0));
  const itemInTrain = new Uint8Array(s.itemIds.length);
  const seen = new Set<number>(); // user * items + item, train side
  const users = s.userIds.length;
  const hasTrain = new Uint8Array(users);
  for (let e = 0; e < cutoffIndex; e++) {
    itemInTrain[s.items[e]!] = 1;
    hasTrain[s.users[e]!] = 1;
    seen.add(s.users[e]! * s.itemIds.length + s.items[e]!);
  }
  const truth = new Map<number, Set<number>>();
  for (let e = cutoffIndex; e < s.length; e++) {
    const u = s.users[e]!;
    const i = s.items[e]!;
    if (!positive[s.types[e]!] || !hasTrain[u] || !itemInTrain[i] || seen.has(u * s.itemIds.length + i))
      continue;
    let set = truth.get(u);
    if (!set) truth.set(u, (set = new Set()));
    set.add(i);
  }
  const testUsers = Int32Array.from([...truth.keys()].sort((a, b) => a - b));
  const truthIndptr = new Int32Array(testUsers.length + 1);
  const items: number[] = [];
  testUsers.forEach((u, t) => {
    items.push(...[...truth.get(u)!].sort((a, b) => a - b));
    truthIndptr[t + 1] = items.length;
  });
  return {
    cutoffIndex,
    cutoffTime: cutoffIndex < s.length ? s.timestamps[cutoffIndex]! : Number.POSITIVE_INFINITY,
    testUsers,
    truthIndptr,
    truthItems: Int32Array.from(items),
  };
}
