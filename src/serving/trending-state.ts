/**
 * Real-time popularity: a time-decayed counter per catalogue item, read from the store's recent
 * events at load and fed by every event ingested since. It lives beside the served model (see
 * served.ts), never in it.
 */
import { TrendingModel } from '../../models/trending.ts';
import { engagementWeights } from '../store/event-weights.ts';
import type { EventType, ShelfEvent, Store } from '../store/types.ts';
import type { Catalog } from './catalog.ts';

/** How much an event says about an item's popularity right now: the engagement of the one weight table. */
export const TRENDING_WEIGHTS: Partial<Record<EventType, number>> = engagementWeights();
/** Trending remembers about a week; the window read at start covers several half-lives. */
export const TRENDING_HALF_LIFE_MS = 2 * 86_400_000;
export const TRENDING_WINDOW_MS = 14 * 86_400_000;
/** Room for items added after load (beyond it they get no trending score until the next swap). */
const TRENDING_HEADROOM = 1.25;

/** Counters over `catalog`'s item space, from the store's events of the window before `now`. */
export async function loadTrending(store: Store, catalog: Catalog, now: number): Promise<TrendingModel> {
  const trending = new TrendingModel({
    items: Math.ceil(catalog.size * TRENDING_HEADROOM) + 64,
    halfLifeMs: TRENDING_HALF_LIFE_MS,
  });
  for await (const e of store.streamEvents({ from: now - TRENDING_WINDOW_MS }))
    addTrending(trending, catalog, e);
  return trending;
}

export function addTrending(
  trending: TrendingModel,
  catalog: Catalog,
  e: Pick<ShelfEvent, 'itemId' | 'type' | 'timestamp'>,
): void {
  const w = TRENDING_WEIGHTS[e.type];
  const i = catalog.indexOf(e.itemId);
  if (w && i !== undefined && i < trending.items) trending.add(i, e.timestamp, w);
}
