import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/app/create-shelf.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES } from '../../../src/registry/version-files.ts';
import { DEFAULT_SERVING_CONFIG } from '../../../src/serving/types.ts';
import { parseVersionRules } from '../../../src/serving/version-rules.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { newestSplit } from '../../../training/holdout.ts';
import { DEFAULT_WEIGHTS } from '../../../training/interaction-weights.ts';
import { scoreServedVersion, trainVersion } from '../../../training/publish.ts';
import type { RulesReport } from '../../../training/serving-rules.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';
import { oneDepartmentStore } from '../../helpers/one-department-store.ts';

const log = pino({ level: 'silent' });
const fast = { factors: 8, iterations: 6 };

describe('serving rules tuned by shelf train', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-rules-'));
    store = await oneDepartmentStore();
    registry = new ModelRegistry(join(dir, 'models'));
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const rulesOf = async (version: string) =>
    parseVersionRules((await registry.file(version, VERSION_FILES.servingRules)).toString('utf8'));

  it('lifts a category cap that cuts lists short on the newest split, and records what it found', async () => {
    const { manifest } = await trainVersion({
      store,
      registry,
      recipe: fast,
      seed: 4,
      makeEngine: createEngine,
      log,
    });
    const rules = await rulesOf(manifest.version);
    expect(Object.keys(rules).sort()).toEqual(['homepage', 'personalized']);
    // A shopper's next items are all in their one-category department; the default cap is 4.
    for (const tier of ['personalized', 'homepage'] as const) {
      expect(DEFAULT_SERVING_CONFIG.tiers[tier].maxPerCategory).toBe(4);
      expect(rules[tier]!.maxPerCategory).toBeGreaterThanOrEqual(8);
    }

    const report = manifest.params.servingRules as RulesReport;
    expect(report.tiers).toEqual(['personalized', 'homepage']);
    expect(report.testUsers).toBe(manifest.metrics!.testUsers);
    expect(report.users).toBe(Math.min(report.testUsers, 200));
    for (const tier of report.tiers) {
      const v = report.validation[tier]!;
      expect(v.chosen['ndcg@20']).toBeGreaterThan(v.start['ndcg@20'] + 0.05);
      expect(v.chosen['coverage@20']).toBeGreaterThanOrEqual(report.minCoverage);
      expect(v.chosen.meanLength).toBe(20);
    }

    // Seeded: the same store and seed choose the same rules.
    const again = await trainVersion({
      store,
      registry,
      recipe: fast,
      seed: 4,
      makeEngine: createEngine,
      log,
    });
    expect(await rulesOf(again.manifest.version)).toEqual(rules);
  });

  it('serves the tuned rules better than the defaults on the split they were tuned on', async () => {
    const tuned = await trainVersion({
      store,
      registry,
      recipe: fast,
      seed: 5,
      makeEngine: createEngine,
      log,
    });
    const plain = await trainVersion({
      store,
      registry,
      recipe: { ...fast, tuneRules: false },
      seed: 5,
      makeEngine: createEngine,
      log,
    });
    expect(plain.manifest.files[VERSION_FILES.servingRules]).toBeUndefined();
    expect(plain.manifest.params.servingRules).toEqual({ skipped: 'turned off (tuneRules false)' });
    const s = await takeSnapshot(store);
    const split = newestSplit(s, DEFAULT_WEIGHTS, 0.1);
    const score = (version: string) =>
      scoreServedVersion({ store, registry, version, s, split, makeEngine: createEngine, log });
    const [a, b] = [await score(tuned.manifest.version), await score(plain.manifest.version)];
    expect(a).toMatchObject({ refitted: true, tunedRules: true });
    expect(b).toMatchObject({ refitted: true, tunedRules: false });
    expect(a.tiers.homepage!.users).toBe(split.testUsers.length);
    for (const tier of ['personalized', 'homepage'] as const)
      expect(a.tiers[tier]!['ndcg@20']).toBeGreaterThan(b.tiers[tier]!['ndcg@20'] + 0.05);
    expect(a.tiers.personalized!.shortShare).toBe(0);
  });

  it('skips the tuning, and says why, when the newest split has no test users', async () => {
    const lone = await openSqliteStore(':memory:');
    try {
      const at = Date.UTC(2025, 0, 1);
      await lone.insertEvents(
        ['a', 'b', 'c', 'd'].map((itemId, k) => ({
          eventId: `e${k}`,
          type: 'purchase' as const,
          userId: k < 3 ? 'u1' : 'u2',
          itemId,
          timestamp: at + k * 3_600_000,
        })),
      );
      const { manifest } = await trainVersion({
        store: lone,
        registry,
        recipe: fast,
        makeEngine: createEngine,
        log,
      });
      expect(manifest.metrics).toBeNull();
      expect(manifest.params.servingRules).toEqual({ skipped: 'the newest split has no test users' });
      expect(manifest.files[VERSION_FILES.servingRules]).toBeUndefined();
    } finally {
      await lone.close();
    }
  });
});
