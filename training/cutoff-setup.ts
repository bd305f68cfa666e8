/**
 * The store as it stood at a holdout's cutoff, served: what `shelf train` tunes a version's
 * serving rules on and `shelf evaluate --served` scores. The engine reads visitors' histories
 * from its store, so it gets a fresh in-memory store holding only what was known then and what
 * it reads: the snapshot's events before the cutoff of the users it will be asked about; the
 * items published before the cutoff or seen in an event before it; and the asked users'
 * profiles (consent). Trending's window (two weeks before the cutoff) is counted into the
 * engine's real-time state straight from the snapshot (`seedTrending`), the same counts as the
 * engine reading it from a store: on the demo store that window is 241k of its 424k events,
 * which the store would write and the engine read back. Anonymous session events are not in a
 * snapshot, so they move no trending counter here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '../src/registry/model-registry.ts';
import type { NewVersion } from '../src/registry/model-registry.ts';
import { seedTrending, TRENDING_WINDOW_MS } from '../src/serving/trending-state.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store, User } from '../src/store/types.ts';
import { EVENT_TYPES } from '../src/store/types.ts';
import type { Holdout } from './holdout.ts';
import type { ServedSetup } from './served-evaluation.ts';
import type { Snapshot } from './snapshot.ts';

/** A version not published anywhere yet: its manifest fields and files. */
export interface VersionDraft {
  meta: NewVersion;
  files: Record<string, Uint8Array>;
}

export interface CutoffSetupOptions {
  /** Today's store: the users' profiles. */
  store: Store;
  /** Today's catalogue, by item id. */
  catalogue: ReadonlyMap<string, Item>;
  s: Snapshot;
  split: Holdout;
  /** Ids of the users who will be asked (their profiles are copied). */
  users: Iterable<string>;
  /**
   * What to serve: a version of a registry, or a draft published into a scratch registry that
   * `close()` removes. A draft may still be in the making (its graph building): it is awaited
   * once the store is filled.
   */
  version: { registry: ModelRegistry; version: string } | VersionDraft | Promise<VersionDraft>;
}

const BATCH = 10_000;

/** Event `e` of the snapshot as the store held it. */
function eventOf(s: Snapshot, e: number): ShelfEvent {
  const type = EVENT_TYPES[s.types[e]!]!;
  const amount = s.amounts[e]!;
  return {
    eventId: `s${e}`,
    type,
    userId: s.userIds[s.users[e]!]!,
    itemId: s.itemIds[s.items[e]!]!,
    timestamp: s.timestamps[e]!,
    ...(type === 'rating' ? { value: amount } : { quantity: amount }),
  };
}

/** The first index in [0, end) of the ascending `ts` whose time is ≥ `t` (end: none). */
function lowerBound(ts: Float64Array, t: number, end: number): number {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function cutoffSetup(o: CutoffSetupOptions): Promise<ServedSetup> {
  const store = await openSqliteStore(':memory:');
  let scratch: string | null = null;
  try {
    const { s, split } = o;
    const users = [...o.users];
    const asked = new Set(users);
    const isAsked = Uint8Array.from(s.userIds, (id) => (asked.has(id) ? 1 : 0));
    // Visitors' histories are read per user; nothing else reads events older than trending's window.
    const windowStart = split.cutoffTime - TRENDING_WINDOW_MS;
    const seen = new Uint8Array(s.itemIds.length);
    for (let e = 0; e < split.cutoffIndex; e++) seen[s.items[e]!] = 1;
    const items: Item[] = [];
    for (const item of o.catalogue.values()) if (item.publishedAt < split.cutoffTime) items.push(item);
    s.itemIds.forEach((id, i) => {
      const item = o.catalogue.get(id);
      if (seen[i] && item && !(item.publishedAt < split.cutoffTime)) items.push(item);
    });
    await store.upsertItems(items);
    let batch: ShelfEvent[] = [];
    for (let e = 0; e < split.cutoffIndex; e++) {
      if (!isAsked[s.users[e]!]) continue;
      batch.push(eventOf(s, e));
      if (batch.length === BATCH) {
        await store.insertEvents(batch);
        batch = [];
      }
    }
    if (batch.length) await store.insertEvents(batch);
    const profiles: User[] = [];
    for (const userId of users) {
      const user = await o.store.getUser(userId);
      if (user) profiles.push(user);
    }
    if (profiles.length) await store.upsertUsers(profiles);

    const served = await o.version;
    let registry: ModelRegistry;
    let version: string;
    if ('registry' in served) ({ registry, version } = served);
    else {
      scratch = await mkdtemp(join(tmpdir(), 'shelf-cutoff-'));
      registry = new ModelRegistry(join(scratch, 'models'));
      ({ version } = await registry.create(served.meta, served.files));
    }
    const dir = scratch;
    return {
      store,
      registry,
      version,
      now: split.cutoffTime,
      seedTrending: async (realtime) => {
        if (!(await realtime.trending.claimSeed())) return;
        const from = lowerBound(s.timestamps, windowStart, split.cutoffIndex);
        const window = function* () {
          for (let e = from; e < split.cutoffIndex; e++) yield eventOf(s, e);
        };
        await seedTrending(realtime.trending, window(), split.cutoffTime);
      },
      close: async () => {
        await store.close();
        if (dir) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await store.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    throw err;
  }
}
