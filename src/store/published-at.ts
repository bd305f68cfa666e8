/**
 * When an item was first published is the catalogue's, not each write's: an item sent again
 * without `publishedAt` (PUT /v1/items, `shelf import items`) keeps the one stored, or every
 * re-sent item would be a new arrival (the new-arrival slot serves items of the last 72 hours).
 */
import type { Item, Store } from './types.ts';

/** Whether a raw item record gives its own `publishedAt`. */
export function givesPublishedAt(raw: unknown): boolean {
  const v =
    typeof raw === 'object' && raw !== null ? (raw as { publishedAt?: unknown }).publishedAt : undefined;
  return v !== undefined && v !== null && v !== '';
}

/** `items` with the stored `publishedAt` for those in `defaulted` that the store already holds. */
export async function keepPublishedAt(
  store: Pick<Store, 'getItems'>,
  items: readonly Item[],
  defaulted: { has(item: Item): boolean },
): Promise<Item[]> {
  const ids = items.filter((i) => defaulted.has(i)).map((i) => i.itemId);
  if (!ids.length) return [...items];
  const stored = new Map((await store.getItems(ids)).map((i) => [i.itemId, i.publishedAt]));
  return items.map((i) => {
    const at = defaulted.has(i) ? stored.get(i.itemId) : undefined;
    return at === undefined ? i : { ...i, publishedAt: at };
  });
}
