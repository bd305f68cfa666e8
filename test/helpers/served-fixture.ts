/**
 * A served version small enough to reason about by hand: six model items on two axes, two
 * users, neighbour lists, a cold item the model never saw, trending counters — for the serving
 * stages' unit tests (no training, no store).
 */
import { AlsModel } from '../../models/als.ts';
import { TrendingModel } from '../../models/trending.ts';
import { ExactIndex } from '../../src/index/exact-index.ts';
import { Catalog } from '../../src/serving/catalog.ts';
import { CatalogVectors } from '../../src/serving/catalog-vectors.ts';
import type { Served } from '../../src/serving/served.ts';
import type { ServingModel } from '../../src/serving/serving-model.ts';
import { EVENT_WEIGHTS } from '../../src/store/event-weights.ts';
import type { Item } from '../../src/store/types.ts';

export const NOW = Date.UTC(2025, 5, 1, 12);
const DAY = 86_400_000;

export const item = (itemId: string, categories: string[], over: Partial<Item> = {}): Item => ({
  itemId,
  title: `Title ${itemId}`,
  categories,
  price: 10,
  status: 'active',
  publishedAt: NOW - 100 * DAY,
  repurchasable: false,
  attributes: {},
  ...over,
});

/** Model items `a`..`f` at indexes 0..5, then the cold item `g` (index 6). */
export const ITEMS: Item[] = [
  item('a', ['Home > Kitchen'], { brand: 'Acme' }),
  item('b', ['Home > Kitchen'], { price: 40 }),
  item('c', ['Toys > Games']),
  item('d', ['Toys > Games'], { repurchasable: true }),
  item('e', ['Home > Bath']),
  item('f', []),
  item('g', ['Home > Kitchen'], { publishedAt: NOW - DAY }),
];

const ITEM_FACTORS = [1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9, 0.7, 0.7, -1, 0];
const USER_FACTORS = [1, 0, 0, 1];

export function model(over: Partial<ServingModel> = {}): ServingModel {
  const itemFactors = Float32Array.from(ITEM_FACTORS);
  return {
    version: 'v-test',
    manifest: null,
    als: AlsModel.fromFactors(Float32Array.from(USER_FACTORS), itemFactors, 2),
    itemIds: ['a', 'b', 'c', 'd', 'e', 'f'],
    contentItemIds: [],
    userIndex: new Map([
      ['u1', 0],
      ['u2', 1],
    ]),
    userRows: null,
    // a → b, e; c → d; the rest none (-1 pads a list).
    neighbours: {
      rows: 6,
      k: 2,
      indices: Int32Array.from([1, 4, -1, -1, 3, -1, -1, -1, -1, -1, -1, -1]),
      scores: Float32Array.from([0.8, 0.4, 0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0]),
    },
    complements: null,
    ease: null,
    easeHalfLifeMs: 30 * DAY,
    encoder: null,
    index: ExactIndex.build({ data: itemFactors, rows: 6, cols: 2 }),
    popularity: Float32Array.from([5, 1, 3, 0, 2, 4]),
    eventWeights: EVENT_WEIGHTS,
    rules: null,
    ...over,
  };
}

/**
 * `model()` served over `ITEMS` (or `items`), with `c` the most trending, then `e`. The unseen
 * items' content vectors are not in the index yet: `loaded` when the model has an encoder.
 */
export function served(o: { model?: ServingModel; items?: Item[] } = {}): Served {
  const m = o.model ?? model();
  const catalog = new Catalog(m.itemIds, o.items ?? ITEMS, () => NOW);
  const trending = new TrendingModel({ items: 64, halfLifeMs: 2 * DAY });
  trending.add(2, NOW - 1000, 8);
  trending.add(4, NOW - 1000, 4);
  return { model: m, catalog, vectors: new CatalogVectors(m, catalog), trending };
}

/** `served(o)` as a load leaves it: the unseen items' content vectors added. */
export async function loaded(o: Parameters<typeof served>[0] = {}): Promise<Served> {
  const s = served(o);
  await s.vectors.addUnseen();
  return s;
}
