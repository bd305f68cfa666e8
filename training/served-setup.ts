/**
 * The quality benchmark's served setup: an EVALUATION.md split's train part imported into a
 * fresh store as events (items published at their first train interaction, so a back
 * catalogue is not all "new"), and the version `shelf train` makes from that store — its
 * serving rules tuned on its own newest split, as they would be for a shop with this data.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ModelRegistry } from '../src/registry/model-registry.ts';
import type { Engine, EngineOptions } from '../src/serving/engine.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { EventType, Item, ShelfEvent } from '../src/store/types.ts';
import type { InteractionDataset } from './datasets/interaction-dataset.ts';
import { trainVersion } from './publish.ts';
import type { Recipe, TrainResult } from './publish.ts';
import type { ServedSetup } from './served-evaluation.ts';
import type { EvalSplit } from './split.ts';

export interface ServedSetupOptions {
  /** What a train interaction is stored as (online-retail: purchase; MovieLens: rating). */
  eventType: EventType;
  /** Engine clock, epoch ms; default: 1 ms after the newest train interaction. */
  now?: number;
  recipe?: Partial<Recipe>;
  /** The engine `shelf train` tunes the version's serving rules with. */
  makeEngine: (o: EngineOptions) => Engine;
  seed: number;
  log: Logger;
}

const BATCH = 10_000;

/** Imports the split's train part into a fresh SQLite store and trains and promotes a version on it. */
export async function servedSetup(
  data: InteractionDataset,
  split: EvalSplit,
  o: ServedSetupOptions,
): Promise<ServedSetup & Pick<TrainResult, 'manifest'>> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-served-'));
  const store = await openSqliteStore(':memory:');
  try {
    const firstSeen = new Float64Array(data.itemCount).fill(Infinity);
    let newest = -Infinity;
    for (const r of split.trainRows) {
      const ms = data.timestamps[r]! * 1000;
      const i = data.items[r]!;
      if (ms < firstSeen[i]!) firstSeen[i] = ms;
      if (ms > newest) newest = ms;
    }
    const items: Item[] = [];
    for (const i of split.itemOf) {
      items.push({
        itemId: data.itemIds[i]!,
        title: data.itemTitles[i] || data.itemIds[i]!,
        categories: data.itemCategories[i] ?? [],
        status: 'active',
        publishedAt: firstSeen[i]!,
        repurchasable: false,
        attributes: {},
      });
    }
    await store.upsertItems(items);
    let batch: ShelfEvent[] = [];
    for (const r of split.trainRows) {
      const value = data.values[r]!;
      batch.push({
        eventId: `e${r}`,
        type: o.eventType,
        userId: data.userIds[data.users[r]!]!,
        itemId: data.itemIds[data.items[r]!]!,
        timestamp: data.timestamps[r]! * 1000,
        ...(o.eventType === 'rating' ? { value } : { quantity: value }),
      });
      if (batch.length === BATCH) {
        await store.insertEvents(batch);
        batch = [];
      }
    }
    if (batch.length) await store.insertEvents(batch);
    const registry = new ModelRegistry(join(dir, 'models'));
    const { manifest } = await trainVersion({
      store,
      registry,
      ...(o.recipe ? { recipe: o.recipe } : {}),
      makeEngine: o.makeEngine,
      seed: o.seed,
      log: o.log,
    });
    await registry.promote(manifest.version);
    return {
      store,
      registry,
      version: manifest.version,
      manifest,
      now: o.now ?? newest + 1,
      close: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
