import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { seedTrending, TRENDING_WINDOW_MS } from '../../../src/serving/trending-state.ts';
import { allItems } from '../../../src/store/all-items.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../../src/store/types.ts';
import { createEngine } from '../../../src/app/create-shelf.ts';
import { cutoffSetup } from '../../../training/cutoff-setup.ts';
import { newestSplit } from '../../../training/holdout.ts';
import { DEFAULT_WEIGHTS } from '../../../training/interaction-weights.ts';
import { trainVersion } from '../../../training/publish.ts';
import { holdoutTargets, sampleTargets, servedScorer } from '../../../training/served-evaluation.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';

const collect = async (events: AsyncIterable<ShelfEvent>) => {
  const out: ShelfEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
};

describe('cutoffSetup', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-cutoff-'));
    store = await openSqliteStore(':memory:');
    registry = new ModelRegistry(join(dir, 'models'));
    await exportStorefront(generateStorefront({ seed: 5, items: 300, users: 300, events: 20_000 }), {
      store,
    });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The store's snapshot, its newest split, a version trained on it and the catalogue. */
  const trained = async () => {
    const s = await takeSnapshot(store);
    const split = newestSplit(s, DEFAULT_WEIGHTS, 0.1);
    const { manifest } = await trainVersion({
      store,
      registry,
      recipe: { factors: 8, iterations: 2, tuneRules: false },
      log: pino({ level: 'silent' }),
    });
    const catalogue = new Map<string, Item>();
    for await (const item of allItems(store)) catalogue.set(item.itemId, item);
    return { s, split, manifest, catalogue };
  };

  it('holds the asked users’ histories, and counts trending’s window as an engine reading it would', async () => {
    const { s, split, manifest, catalogue } = await trained();
    const asked = Array.from(split.testUsers.slice(0, 20), (u) => s.userIds[u]!);
    const setup = await cutoffSetup({
      store,
      catalogue,
      s,
      split,
      users: asked,
      version: { registry, version: manifest.version },
    });
    try {
      const windowStart = split.cutoffTime - TRENDING_WINDOW_MS;
      const before = Array.from({ length: split.cutoffIndex }, (_, e) => ({
        user: s.userIds[s.users[e]!]!,
        at: s.timestamps[e]!,
      }));
      // The test needs other users' events in the window: those are counted, not stored.
      expect(before.filter((e) => !asked.includes(e.user) && e.at >= windowStart).length).toBeGreaterThan(
        100,
      );
      for (const user of asked) {
        const known = before.filter((e) => e.user === user).length;
        expect((await setup.store.recentEvents(user, 100_000)).length).toBe(known);
        expect((await setup.store.getUser(user))?.consent).toEqual((await store.getUser(user))?.consent);
      }
      let stored = 0;
      for await (const e of setup.store.streamEvents()) {
        expect(asked).toContain(e.userId);
        expect(e.timestamp).toBeLessThan(split.cutoffTime);
        stored++;
      }
      expect(stored).toBe(before.filter((e) => asked.includes(e.user)).length);

      // The same counts as an engine's first swap reading the window from a store that holds it.
      const seeded = new MemoryRealtime();
      await setup.seedTrending!(seeded);
      expect(await seeded.trending.claimSeed()).toBe(false);
      const windowStore = await openSqliteStore(':memory:');
      try {
        await windowStore.insertEvents(
          (await collect(store.streamEvents({ from: windowStart, to: split.cutoffTime }))).filter(
            (e) => e.userId !== undefined,
          ),
        );
        const read = new MemoryRealtime();
        await seedTrending(read.trending, windowStore.streamEvents({ from: windowStart }), split.cutoffTime);
        const expected = read.trending.readNow(split.cutoffTime, null).scores;
        expect(expected.size).toBeGreaterThan(50);
        expect(seeded.trending.readNow(split.cutoffTime, null).scores).toEqual(expected);
      } finally {
        await windowStore.close();
      }
    } finally {
      await setup.close();
    }
  });

  it('serves the setup to a tuning that lets this thread’s loop run between the settings it scores', async () => {
    const { s, split, manifest, catalogue } = await trained();
    const targets = sampleTargets(holdoutTargets(s, split), 20, 1);
    const setup = await cutoffSetup({
      store,
      catalogue,
      s,
      split,
      users: Array.from(targets.testUsers, (u) => s.userIds[u]!),
      version: { registry, version: manifest.version },
    });
    try {
      // At info: its engine's swap is an evaluation's, not logged as the server's would be.
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
      const score = servedScorer(setup, targets, createEngine, log);
      const first = await score('personalized');
      expect(lines.join('')).not.toContain('model swapped in');
      expect(first.users).toBe(targets.testUsers.length);
      // What waits on the loop (a worker's answer, a timer) runs before the next setting's score.
      let ran = false;
      setImmediate(() => (ran = true));
      expect(await score('personalized')).toEqual(first);
      expect(ran).toBe(true);
    } finally {
      await setup.close();
    }
  });
});
