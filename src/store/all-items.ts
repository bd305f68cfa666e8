import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Item, Store } from './types.ts';

/**
 * Every stored item in itemId order, read a page at a time, with a turn of the event loop
 * between pages: SQLite reads synchronously, and a version loading a large catalogue would
 * otherwise hold the loop for the whole read (800 ms at 100k items) while the one it replaces
 * should be answering.
 */
export async function* allItems(store: Store, pageSize = 1000): AsyncIterable<Item> {
  for (let page = await store.listItems({ limit: pageSize }); page.length;) {
    yield* page;
    await yieldToEventLoop();
    page = await store.listItems({ after: page[page.length - 1]!.itemId, limit: pageSize });
  }
}
