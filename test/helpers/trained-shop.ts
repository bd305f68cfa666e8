/**
 * A demo storefront in an in-memory SQLite store, with a version trained (seed 1; 8 factors and
 * 3 iterations unless a recipe is given) and made current in a models dir of its own: what the
 * HTTP tests, the closed-loop simulator's tests and the click population serve.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createShelf } from '../../src/app/create-shelf.ts';
import type { Shelf } from '../../src/app/create-shelf.ts';
import { loadConfig } from '../../src/config.ts';
import { exportStorefront } from '../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../src/demo/generate-storefront.ts';
import type { Storefront, StorefrontOptions } from '../../src/demo/generate-storefront.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Store } from '../../src/store/types.ts';
import { trainVersion } from '../../training/publish.ts';
import type { Recipe } from '../../training/publish.ts';

export interface TrainedShop {
  /** The data dir (its `models/` holds the version). */
  dir: string;
  store: Store;
  registry: ModelRegistry;
  storefront: Storefront;
  /** A Shelf over the shop's store and models (`env` added to its data dir), on the clock `now`. */
  start(env: Record<string, string>, now: () => number): Promise<Shelf>;
  /** Closes the store and deletes the dir. */
  close(): Promise<void>;
}

export async function trainedShop(
  storefront: StorefrontOptions & { now: number },
  recipe: Partial<Recipe> = { factors: 8, iterations: 3 },
): Promise<TrainedShop> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-shop-'));
  const store = await openSqliteStore(':memory:');
  const registry = new ModelRegistry(join(dir, 'models'));
  const sf = generateStorefront(storefront);
  await exportStorefront(sf, { store });
  const log = pino({ level: 'silent' });
  const { manifest } = await trainVersion({
    store,
    registry,
    recipe,
    seed: 1,
    log,
  });
  await registry.promote(manifest.version);
  return {
    dir,
    store,
    registry,
    storefront: sf,
    start: (env, now) =>
      createShelf(loadConfig({ SHELF_DATA_DIR: dir, ...env }), log, { store, registry, now }),
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
