import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { TRENDING_WINDOW_MS } from '../../../src/serving/trending-state.ts';
import { allItems } from '../../../src/store/all-items.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, Store } from '../../../src/store/types.ts';
import { createEngine } from '../../../src/app/create-shelf.ts';
import { cutoffSetup } from '../../../training/cutoff-setup.ts';
import { newestSplit } from '../../../training/holdout.ts';
import { DEFAULT_WEIGHTS } from '../../../training/interaction-weights.ts';
import { trainVersion } from '../../../training/publish.ts';
import { holdoutTargets, sampleTargets, servedScorer } from '../../../training/served-evaluation.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';

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

  it('holds what serving reads at the cutoff: the asked users’ histories and trending’s window', async () => {
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
      // The test needs other users' events older than the window: those are left out.
      expect(before.filter((e) => !asked.includes(e.user) && e.at < windowStart).length).toBeGreaterThan(100);
      for (const user of asked) {
        const known = before.filter((e) => e.user === user).length;
        expect((await setup.store.recentEvents(user, 100_000)).length).toBe(known);
        expect((await setup.store.getUser(user))?.consent).toEqual((await store.getUser(user))?.consent);
      }
      let windowed = 0;
      for await (const e of setup.store.streamEvents({ from: windowStart })) {
        expect(e.timestamp).toBeLessThan(split.cutoffTime);
        windowed++;
      }
      expect(windowed).toBe(before.filter((e) => e.at >= windowStart).length);
      let stored = 0;
      for await (const e of setup.store.streamEvents()) stored += e.timestamp < windowStart ? 1 : 0;
      expect(stored).toBe(before.filter((e) => asked.includes(e.user) && e.at < windowStart).length);
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
      const score = servedScorer(setup, targets, createEngine, pino({ level: 'silent' }));
      const first = await score('personalized');
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
