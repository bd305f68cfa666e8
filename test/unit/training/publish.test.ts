import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { int32From } from '../../../models/typed-bytes.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import type { Storefront } from '../../../src/demo/generate-storefront.ts';
import { inAnyCategory } from '../../../src/demo/planted.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { cutoffSplit, newestSplit } from '../../../training/holdout.ts';
import { DEFAULT_WEIGHTS } from '../../../training/interaction-weights.ts';
import {
  DEFAULT_RECIPE,
  promoteWithGate,
  scoreRecipe,
  scoreVersion,
  trainVersion,
} from '../../../training/publish.ts';
import type { StageTiming } from '../../../training/stage-clock.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';
import { tune } from '../../../training/tune.ts';
import { loadAlsVersion } from '../../../src/registry/als-version.ts';

const log = pino({ level: 'silent' });

const withoutSeconds = (json: Uint8Array) =>
  JSON.parse(Buffer.from(json).toString(), (key, value: unknown) => (key === 'seconds' ? undefined : value));

describe('train, publish and gate on a generated storefront', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;
  let storefront: Storefront;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-train-'));
    store = await openSqliteStore(':memory:');
    registry = new ModelRegistry(join(dir, 'models'));
    storefront = generateStorefront({ seed: 7, items: 400, users: 500, events: 40_000 });
    await exportStorefront(storefront, { store });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const fast = { factors: 16, iterations: 8 };

  it('publishes a version with metrics and id maps, reproducibly', async () => {
    const a = await trainVersion({ store, registry, recipe: fast, seed: 3, log });
    const b = await trainVersion({ store, registry, recipe: fast, seed: 3, log });
    expect(a.manifest.metrics!['ndcg@20']).toBeGreaterThan(0.05);
    expect(a.manifest.metrics!.testUsers).toBeGreaterThan(50);
    expect(b.manifest.metrics).toEqual(a.manifest.metrics);
    expect(a.manifest.data.users).toBeGreaterThan(400);
    expect(Object.keys(a.manifest.files)).toEqual(
      expect.arrayContaining([
        'item-factors.f32',
        'items.json',
        'user-factors.f32',
        'users.json',
        'user-items-indptr.i32',
        'neighbours-indices.i32',
        'complements-indices.i32',
        'content-encoder.json',
      ]),
    );
    expect(a.manifest.params.encoderItems).toBe(a.manifest.data.items);
    expect(await registry.current()).toBeNull();
  });

  it('publishes without a user erased after its snapshot was taken (their id, vector and row)', async () => {
    const { userIds } = await takeSnapshot(store);
    const [gone, kept] = [userIds[3]!, userIds[4]!];
    // The erasure lands while the fit runs: the snapshot had the user's events.
    const erasedMeanwhile: Store = Object.create(store) as Store;
    erasedMeanwhile.erasedUsers = async () => [gone];
    const { manifest } = await trainVersion({ store: erasedMeanwhile, registry, recipe: fast, seed: 3, log });
    const v = await loadAlsVersion(registry, manifest.version);
    expect(v.userIds).not.toContain(gone);
    expect(v.userIds[3]).toBe('');
    expect(v.userIds[4]).toBe(kept);
    const k = v.model.factors;
    expect(Array.from(v.model.userFactors.subarray(3 * k, 4 * k)).every((x) => x === 0)).toBe(true);
    expect(Array.from(v.model.userFactors.subarray(4 * k, 5 * k)).some((x) => x !== 0)).toBe(true);
    const indptr = int32From(await registry.file(manifest.version, 'user-items-indptr.i32'));
    expect(indptr[4]! - indptr[3]!).toBe(0);
    expect(indptr[5]! - indptr[4]!).toBeGreaterThan(0);
  });

  it('publishes the same version with its fits side by side on worker threads', async () => {
    const phases: string[] = [];
    const [apart, side] = [
      await trainVersion({ store, registry, recipe: fast, seed: 4, log, sideBySideFrom: Infinity }),
      await trainVersion({
        store,
        registry,
        recipe: fast,
        seed: 4,
        log,
        sideBySideFrom: 0,
        onIteration: (phase) => phases.push(phase),
      }),
    ];
    expect(side.manifest.metrics).toEqual(apart.manifest.metrics);
    expect(phases.filter((p) => p === 'holdout')).toHaveLength(fast.iterations);
    expect(phases.filter((p) => p === 'final')).toHaveLength(fast.iterations);
    for (const file of Object.keys(apart.manifest.files)) {
      const [a, b] = await Promise.all([
        registry.file(apart.manifest.version, file),
        registry.file(side.manifest.version, file),
      ]);
      // The encoder's manifest says how long its fit took; all else is the same.
      if (file === 'content-encoder.json') expect(withoutSeconds(b)).toEqual(withoutSeconds(a));
      else expect(Buffer.from(b).equals(Buffer.from(a)), file).toBe(true);
    }
  });

  it('ranks each user’s planted favourite categories above the rest for most users', async () => {
    const { manifest } = await trainVersion({ store, registry, recipe: fast, seed: 1, log });
    const { model, userIds, itemIds } = await loadAlsVersion(registry, manifest.version);
    const categoriesOf = new Map(storefront.items.map((i) => [i.itemId, i.categories]));
    const scores = new Float32Array(itemIds.length);
    let judged = 0;
    let recovered = 0;
    userIds.forEach((userId, u) => {
      const planted = storefront.planted.users[userId];
      if (!planted) return;
      const fav = itemIds.map((id) => inAnyCategory(categoriesOf.get(id) ?? [], planted.favouriteCategories));
      const nFav = fav.filter(Boolean).length;
      if (nFav === 0 || nFav === itemIds.length) return;
      model.scoreInto(u, new Int32Array(0), new Float32Array(0), scores);
      // AUC: the chance that a random favourite-category item outranks a random other item.
      const order = [...scores.keys()].sort((x, y) => scores[x]! - scores[y]!);
      let rankSum = 0;
      order.forEach((i, r) => {
        if (fav[i]) rankSum += r + 1;
      });
      const auc = (rankSum - (nFav * (nFav + 1)) / 2) / (nFav * (itemIds.length - nFav));
      judged++;
      if (auc > 0.75) recovered++;
    });
    expect(judged).toBeGreaterThan(400);
    // Threshold: for at least 80% of users, favourite-category items outrank others with AUC > 0.75.
    expect(recovered / judged).toBeGreaterThan(0.8);
  });

  it('promotes the first version, refuses a worse one, and rolls back', async () => {
    const good = (await trainVersion({ store, registry, recipe: fast, seed: 5, log })).manifest.version;
    const first = await promoteWithGate({ registry, store, version: good, log });
    expect(first).toMatchObject({ promoted: true });
    const bad = (
      await trainVersion({
        store,
        registry,
        recipe: { factors: 2, iterations: 2, regularization: 1000 },
        seed: 5,
        log,
      })
    ).manifest.version;
    const verdict = await promoteWithGate({ registry, store, version: bad, log });
    expect(verdict.promoted).toBe(false);
    expect(verdict.message).toMatch(/^refused: .* more than the margin 0.005 below the current version/);
    expect(verdict.candidate!).toBeLessThan(verdict.current! - 0.005);
    expect(await registry.current()).toBe(good);

    const forced = await promoteWithGate({ registry, store, version: bad, force: true, log });
    expect(forced.promoted).toBe(true);
    expect(await registry.current()).toBe(bad);
    expect(await registry.rollback()).toBe(good);
    expect(await registry.current()).toBe(good);
  });

  it('passes the gate for an equally good candidate', async () => {
    const v = (await trainVersion({ store, registry, recipe: fast, seed: 5, log })).manifest.version;
    const verdict = await promoteWithGate({ registry, store, version: v, log });
    expect(verdict).toMatchObject({ promoted: true });
    expect(verdict.candidate).toBeCloseTo(verdict.current!, 6);
  });

  it('reuses the scores taken in training in the gate: the figures a refit gives, refitting only another recipe or seed', async () => {
    const recipe = { ...DEFAULT_RECIPE, ...fast };
    const same = (await trainVersion({ store, registry, recipe: fast, seed: 6, log })).manifest.version;
    await promoteWithGate({ registry, store, version: same, force: true, log });
    const job = await trainVersion({ store, registry, recipe: fast, seed: 6, log });
    const stages: StageTiming[] = [];
    const onStage = (t: StageTiming) => stages.push(t);
    const reused = await promoteWithGate({
      registry,
      store,
      version: job.manifest.version,
      log,
      scored: job.scored,
      onStage,
    });
    const { s, split } = job.scored!;
    const refit = scoreRecipe(s, split, recipe, 6);
    expect(reused).toMatchObject({ promoted: true });
    expect(reused.candidate).toBe((await refit)['ndcg@20']);
    expect(reused.current).toBe(reused.candidate);
    expect(stages.map((t) => t.stage)).toEqual(['gate/candidate', 'gate/current']);

    // A current version of another seed is refitted on the same split; the candidate is not.
    const other = (await trainVersion({ store, registry, recipe: fast, seed: 8, log })).manifest.version;
    await promoteWithGate({ registry, store, version: other, force: true, log });
    const next = await trainVersion({ store, registry, recipe: fast, seed: 6, log });
    const verdict = await promoteWithGate({
      registry,
      store,
      version: next.manifest.version,
      log,
      scored: next.scored,
    });
    expect(verdict.candidate).toBe(next.manifest.metrics!['ndcg@20']);
    expect(verdict.current).toBe(
      (await scoreRecipe(next.scored!.s, next.scored!.split, recipe, 8))['ndcg@20'],
    );
    expect(verdict.current).not.toBe(verdict.candidate);
  });

  it('scores a published version on any split, flagging one trained on the test window', async () => {
    const { manifest } = await trainVersion({ store, registry, recipe: fast, seed: 2, log });
    const loaded = await loadAlsVersion(registry, manifest.version);
    const s = await takeSnapshot(store);
    const newest = scoreVersion(loaded, s, newestSplit(s, DEFAULT_WEIGHTS, 0.1));
    expect(newest.sawTestWindow).toBe(true);
    // Trained on the test window, it scores far above its honest holdout figure.
    expect(newest.metrics['ndcg@20']).toBeGreaterThan(manifest.metrics!['ndcg@20'] * 1.5);
    const early = cutoffSplit(s, DEFAULT_WEIGHTS, s.timestamps[Math.floor(s.length / 2)]!);
    expect(scoreVersion(loaded, s, early).metrics.testUsers).toBe(early.testUsers.length);
  });

  it('tunes on a validation split and never reports a best worse than the base recipe', async () => {
    const s = await takeSnapshot(store);
    const seen: number[] = [];
    const result = await tune(s, { base: fast, trials: 3, seed: 9, onTrial: (_t, i) => seen.push(i) });
    expect(seen).toEqual([0, 1, 2]);
    expect(result.trials[0]!.recipe).toMatchObject(fast);
    expect(result.best.validation['ndcg@20']).toBe(
      Math.max(...result.trials.map((t) => t.validation['ndcg@20'])),
    );
    expect(result.test.testUsers).toBeGreaterThan(0);
    const again = await tune(s, { base: fast, trials: 3, seed: 9 });
    expect(again.trials.map((t) => t.validation)).toEqual(result.trials.map((t) => t.validation));
  });
});

describe('a history years older than the newest events', () => {
  it('still shapes the published fit: every item it holds has a vector', async () => {
    // Seen: Online Retail's 2011 beside a month of 2026 events, the published fit had zero
    // vectors for 98.7% of the items (their events weighed 2^-60), and the gate scored it well.
    const dir = await mkdtemp(join(tmpdir(), 'shelf-old-history-'));
    const store = await openSqliteStore(':memory:');
    try {
      const registry = new ModelRegistry(join(dir, 'models'));
      const then = Date.UTC(2011, 5, 1);
      const sf = generateStorefront({ seed: 9, items: 300, users: 300, events: 15_000, now: then });
      await exportStorefront(sf, { store });
      const recent = Date.UTC(2026, 10, 1);
      await store.insertEvents(
        Array.from({ length: 40 }, (_, k) => ({
          eventId: `recent-${k}`,
          type: 'purchase' as const,
          userId: `new-${k % 8}`,
          itemId: sf.items[k % 5]!.itemId,
          timestamp: recent + k * 60_000,
        })),
      );
      const { manifest } = await trainVersion({
        store,
        registry,
        recipe: { factors: 16, iterations: 8 },
        seed: 1,
        log,
      });
      const { model, itemIds } = await loadAlsVersion(registry, manifest.version);
      const f = model.options.factors;
      let zero = 0;
      for (let i = 0; i < itemIds.length; i++)
        if (model.itemFactors.subarray(i * f, (i + 1) * f).every((x) => x === 0)) zero++;
      expect(zero / itemIds.length).toBeLessThan(0.05);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
