import type { Item, Store } from './types.ts';

/** Every stored item in itemId order, read a page at a time. */
export async function* allItems(store: Store, pageSize = 5000): AsyncIterable<Item> {
  for (let page = await store.listItems({ limit: pageSize }); page.length;) {
    yield* page;
    page = await store.listItems({ after: page[page.length - 1]!.itemId, limit: pageSize });
  }
}
