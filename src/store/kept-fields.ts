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

/** The fields a record may leave out: all but `itemId` (a new item must give its `title`). */
export type KeptField = Exclude<keyof Item, 'itemId'>;
// The item record's fields (validate.ts) are Item's keys.
export const KEPT_FIELDS = recordFields('items').fields.filter((f) => f !== 'itemId') as readonly KeptField[];

/** Why a new item's record without a title is refused: a stored one keeps its own. */
export const NEW_ITEM_TITLE = { field: 'title', reason: 'is required for a new item' } as const;

/** The fields a raw item record leaves out: absent, null, or an empty CSV cell. */
export function fieldsLeftOut(raw: unknown): KeptField[] {
  const r = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  return KEPT_FIELDS.filter((f) => r[f] === undefined || r[f] === null || r[f] === '');
}

/** An item's records of one upload as one record, and how many there were. */
export interface MergedItem {
  item: Item;
  /** Its first record (where a refusal of it is reported). */
  first: Item;
  /** The fields every one of its records left out (the stored values fill them). */
  leftOut: readonly KeptField[];
  records: number;
}

/**
 * The records of one upload (a `PUT /v1/items` body, an import batch) naming the same item, in
 * order, as one: a field a later record leaves out keeps the earlier one's value, as it would
 * had they come in two uploads. Taken alone, the later record filled it from the store: a stock 0
 * then a price-only row put the stored stock back, and the item into every list again; and a new
 * item named twice lost its categories and publish date. By item, in first-seen order; the last
 * record itself when it left nothing out.
 */
export function mergeRepeats(
  items: readonly Item[],
  leftOut: (item: Item) => readonly KeptField[] | undefined,
): MergedItem[] {
  const byId = new Map<string, MergedItem>();
  for (const item of items) {
    const out = leftOut(item) ?? [];
    const prev = byId.get(item.itemId);
    if (!prev || !out.length) {
      byId.set(item.itemId, {
        item,
        first: prev?.first ?? item,
        leftOut: out,
        records: (prev?.records ?? 0) + 1,
      });
      continue;
    }
    const kept: Partial<Record<KeptField, unknown>> = {};
    for (const f of out) if (!prev.leftOut.includes(f)) kept[f] = prev.item[f];
    byId.set(item.itemId, {
      item: { ...item, ...kept } as Item,
      first: prev.first,
      leftOut: out.filter((f) => prev.leftOut.includes(f)),
      records: prev.records + 1,
    });
  }
  return [...byId.values()];
}

/**
 * The merged records' items with the stored value of every field all their records left out,
 * those the store holds; `untitled`: the new items whose records gave no title
 * (NEW_ITEM_TITLE), not among `items`.
 */
export async function keepStoredFields(
  store: Pick<Store, 'getItems'>,
  merged: readonly MergedItem[],
): Promise<{ items: Item[]; untitled: MergedItem[] }> {
  const ids = merged.filter((m) => m.leftOut.length).map((m) => m.item.itemId);
  if (!ids.length) return { items: merged.map((m) => m.item), untitled: [] };
  const stored = new Map((await store.getItems(ids)).map((i) => [i.itemId, i]));
  const untitled = merged.filter((m) => !stored.has(m.item.itemId) && m.leftOut.includes('title'));
  const items = merged
    .filter((m) => !untitled.includes(m))
    .map(({ item, leftOut }) => {
      const before = stored.get(item.itemId);
      if (!before) return item;
      const kept: Partial<Record<KeptField, unknown>> = {};
      for (const f of leftOut) kept[f] = before[f];
      const out = { ...item, ...kept } as Item;
      // A field the stored item lacks (no price, no stock) is absent, not undefined.
      for (const f of KEPT_FIELDS) if (out[f] === undefined) delete out[f];
      return out;
    });
  return { items, untitled };
}
