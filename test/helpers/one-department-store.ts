/**
 * A store whose categories are coarse, for tests of the serving rules a version is tuned with:
 * 240 shoppers each buy and view within one of eight departments over 50 days, and each
 * department is a single category of 40 items (a few of them selling most). A shopper's next
 * items are all in their department, so the default cap of four items per category cuts their
 * lists short of what they buy next: tuned rules must lift it.
 */
import { createRng } from '../../models/random.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../src/store/types.ts';

const DAY = 86_400_000;
/** The first day of the store's events (the last is 50 days later). */
export const START = Date.UTC(2025, 0, 1);

export async function oneDepartmentStore(seed = 3): Promise<Store> {
  const store = await openSqliteStore(':memory:');
  const items: Item[] = [];
  for (let d = 0; d < 8; d++)
    for (let k = 0; k < 40; k++)
      items.push({
        itemId: `d${d}-${k}`,
        title: `Department ${d} item ${k}`,
        categories: [`Dept ${d}`],
        status: 'active',
        stock: 10,
        publishedAt: START - 30 * DAY,
        repurchasable: false,
        attributes: {},
      });
  await store.upsertItems(items);
  const rng = createRng(seed);
  const events: ShelfEvent[] = [];
  for (let u = 0; u < 240; u++)
    for (let k = 0; k < 12; k++)
      events.push({
        eventId: `u${u}-${k}`,
        type: rng.next() < 0.5 ? 'purchase' : 'view',
        userId: `u${u}`,
        itemId: `d${u % 8}-${Math.floor(40 * rng.next() ** 2)}`,
        timestamp: START + Math.round(rng.next() * 50 * DAY),
      });
  await store.insertEvents(events);
  return store;
}
