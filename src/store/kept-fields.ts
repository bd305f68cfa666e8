/**
 * What an item record leaves out is the catalogue's, not the record's: an item sent again
 * (`PUT /v1/items`, `shelf import items`, a MovieLens file) without a field keeps the value stored.
 * A price-only feed reset stock 0 to untracked and delisted to active, which brought both back
 * into every tier; it emptied categories and made repurchasable items one-offs; and an item
 * re-sent without `publishedAt` was a new arrival again (the new-arrival slot serves items of the
 * last 72 hours). A new item takes validateItem's defaults.
 */
import type { Item, Store } from './types.ts';
import { recordFields } from './validate.ts';

/** The fields a record may leave out: all but `itemId` and `title`, which it must give. */
export type KeptField = Exclude<keyof Item, 'itemId' | 'title'>;
// The item record's fields (validate.ts) are Item's keys.
export const KEPT_FIELDS = recordFields('items').fields.filter(
  (f) => f !== 'itemId' && f !== 'title',
) as readonly KeptField[];

/** The fields a raw item record leaves out: absent, null, or an empty CSV cell. */
export function fieldsLeftOut(raw: unknown): KeptField[] {
  const r = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  return KEPT_FIELDS.filter((f) => r[f] === undefined || r[f] === null || r[f] === '');
}

/** `items` with the stored value of every field `leftOut` names for each, those the store holds. */
export async function keepStoredFields(
  store: Pick<Store, 'getItems'>,
  items: readonly Item[],
  leftOut: (item: Item) => readonly KeptField[] | undefined,
): Promise<Item[]> {
  const ids = items.filter((i) => leftOut(i)?.length).map((i) => i.itemId);
  if (!ids.length) return [...items];
  const stored = new Map((await store.getItems(ids)).map((i) => [i.itemId, i]));
  return items.map((i) => {
    const before = stored.get(i.itemId);
    if (!before) return i;
    const kept: Partial<Record<KeptField, unknown>> = {};
    for (const f of leftOut(i) ?? []) kept[f] = before[f];
    const out = { ...i, ...kept } as Item;
    // A field the stored item lacks (no price, no stock) is absent, not undefined.
    for (const f of KEPT_FIELDS) if (out[f] === undefined) delete out[f];
    return out;
  });
}
