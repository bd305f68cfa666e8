/**
 * Snapshot of the store's interactions for training: one streaming pass over events in time
 * order into compact typed arrays (one entry per event, ids mapped to dense indexes), so the
 * same snapshot can be split by time and turned into weighted matrices without re-reading.
 */
import type { EventType, InteractionQuery, Store } from '../src/store/types.ts';
import { EVENT_TYPES } from '../src/store/types.ts';
import { GrowableColumn } from './datasets/interaction-dataset.ts';

export interface Snapshot {
  userIds: string[];
  itemIds: string[];
  /** Per event, in time order. */
  users: Int32Array;
  items: Int32Array;
  /** Index into EVENT_TYPES. */
  types: Uint8Array;
  /** Rating value, quantity or 0. */
  amounts: Float32Array;
  timestamps: Float64Array;
  length: number;
}

const TYPE_CODE = new Map<EventType, number>(EVENT_TYPES.map((t, i) => [t, i]));

/** Reads the store's events (anonymous session events are skipped: they have no user to train). */
export async function takeSnapshot(store: Store, query: InteractionQuery = {}): Promise<Snapshot> {
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const users = new GrowableColumn((n) => new Int32Array(n));
  const items = new GrowableColumn((n) => new Int32Array(n));
  const types = new GrowableColumn((n) => new Uint8Array(n));
  const amounts = new GrowableColumn((n) => new Float32Array(n));
  const timestamps = new GrowableColumn((n) => new Float64Array(n));
  for await (const rows of store.streamInteractions(query)) {
    for (const [userId, itemId, type, value, quantity, timestamp] of rows) {
      let u = userIndex.get(userId);
      if (u === undefined) userIndex.set(userId, (u = userIndex.size));
      let i = itemIndex.get(itemId);
      if (i === undefined) itemIndex.set(itemId, (i = itemIndex.size));
      users.push(u);
      items.push(i);
      types.push(TYPE_CODE.get(type)!);
      amounts.push(type === 'rating' ? (value ?? 0) : (quantity ?? 1));
      timestamps.push(timestamp);
    }
  }
  return {
    userIds: [...userIndex.keys()],
    itemIds: [...itemIndex.keys()],
    users: users.finish(),
    items: items.finish(),
    types: types.finish(),
    amounts: amounts.finish(),
    timestamps: timestamps.finish(),
    length: users.length,
  };
}

/** The first `n` events of a snapshot (views, no copy), with the same id maps. */
export function snapshotPrefix(s: Snapshot, n: number): Snapshot {
  const length = Math.max(0, Math.min(n, s.length));
  return {
    userIds: s.userIds,
    itemIds: s.itemIds,
    users: s.users.subarray(0, length),
    items: s.items.subarray(0, length),
    types: s.types.subarray(0, length),
    amounts: s.amounts.subarray(0, length),
    timestamps: s.timestamps.subarray(0, length),
    length,
  };
}
