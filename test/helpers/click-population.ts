/**
 * The closed-loop simulator at the level of units' outcomes, for the acceptance tests of
 * experiments, the bandit and off-policy evaluation: a seeded storefront with planted visitors,
 * a model trained on it, and each visitor's homepage list under each serving configuration from
 * the real engine; then each list's chance of a click and a purchase at every position from the
 * simulator's own click model (src/demo/click-model.ts `trueProbabilities`), and the item's price.
 *
 * Running hundreds of experiments through HTTP would take minutes; drawing each unit's clicks and
 * purchases from these probabilities is the same visitor model, so the truth (expected clicks per
 * list under each configuration) is known exactly.
 */
import type { Rng } from '../../models/random.ts';
import { trueProbabilities } from '../../src/demo/click-model.ts';
import { withVariant } from '../../src/experiments/experiment-router.ts';
import type { VariantConfig } from '../../src/store/types.ts';
import { trainedShop } from './trained-shop.ts';

/** One configuration's list for one visitor, position by position. */
export interface ListTruth {
  itemIds: string[];
  click: Float64Array;
  purchase: Float64Array;
  price: Float64Array;
  /** Σ click: expected clicks per list. */
  expectedClicks: number;
  /** Σ purchase × price: expected revenue per list. */
  expectedRevenue: number;
}

export interface Visitor {
  userId: string;
  /** By configuration name. */
  lists: Record<string, ListTruth>;
}

export interface Population {
  visitors: Visitor[];
  configs: string[];
  /** Mean over visitors of expected clicks per list, by configuration. */
  trueCtr: Record<string, number>;
}

const NOW = Date.UTC(2025, 0, 15, 12);
export const LIST_LENGTH = 8;

/** Builds the population; `configs` are variant configurations over the homepage's default. */
export async function clickPopulation(
  configs: Record<string, VariantConfig>,
  o: { seed?: number; users?: number } = {},
): Promise<Population> {
  const shop = await trainedShop(
    { seed: o.seed ?? 3, items: 200, users: o.users ?? 300, events: 9000, now: NOW },
    { factors: 8, iterations: 4 },
  );
  try {
    const sf = shop.storefront;
    const shelf = await shop.start({ SHELF_ROTATION_SHOWS: '0', SHELF_ANSWER_CACHE_MS: '0' }, () => NOW);
    try {
      const items = new Map(sf.items.map((i) => [i.itemId, i]));
      const base = shelf.engine.defaultConfig('homepage')!;
      const visitors: Visitor[] = [];
      for (const [userId, taste] of Object.entries(sf.planted.users)) {
        const lists: Record<string, ListTruth> = {};
        for (const [name, v] of Object.entries(configs)) {
          const r = await shelf.engine.recommend({
            tier: 'homepage',
            userId,
            limit: LIST_LENGTH,
            config: withVariant(base, `sim:${name}`, v),
          });
          const itemIds = r.items.map((i) => i.itemId);
          const click = new Float64Array(itemIds.length);
          const purchase = new Float64Array(itemIds.length);
          const price = new Float64Array(itemIds.length);
          itemIds.forEach((id, k) => {
            const item = items.get(id)!;
            const p = trueProbabilities(taste, item, k);
            click[k] = p.click;
            purchase[k] = p.purchase;
            price[k] = item.price ?? 0;
          });
          const expectedClicks = click.reduce((a, b) => a + b, 0);
          const expectedRevenue = purchase.reduce((a, p, k) => a + p * price[k]!, 0);
          lists[name] = { itemIds, click, purchase, price, expectedClicks, expectedRevenue };
        }
        visitors.push({ userId, lists });
      }
      const names = Object.keys(configs);
      const trueCtr = Object.fromEntries(
        names.map((n) => [n, visitors.reduce((a, v) => a + v.lists[n]!.expectedClicks, 0) / visitors.length]),
      );
      return { visitors, configs: names, trueCtr };
    } finally {
      await shelf.close();
    }
  } finally {
    await shop.close();
  }
}

/** A Poisson draw (Knuth's product method; fine for the small means used here). */
export function poisson(rng: Rng, mean: number): number {
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * rng.normal()));
  const l = Math.exp(-mean);
  let k = 0;
  let p = rng.next();
  while (p > l) {
    k++;
    p *= rng.next();
  }
  return k;
}

/** One list shown: clicks, purchases and revenue drawn from the click model. */
export function showList(rng: Rng, list: ListTruth): { clicks: number; purchases: number; revenue: number } {
  let clicks = 0;
  let purchases = 0;
  let revenue = 0;
  for (let k = 0; k < list.click.length; k++) {
    if (rng.next() >= list.click[k]!) continue;
    clicks++;
    // A purchase through this click: purchase ÷ click given the click.
    if (rng.next() < list.purchase[k]! / list.click[k]!) {
      purchases++;
      revenue += list.price[k]!;
    }
  }
  return { clicks, purchases, revenue };
}
