/**
 * The shop's merchandising rules — pinned promotions and boosts — as `PUT /v1/admin/rules` sets
 * them: checked against each other and the catalogue before they are stored, so that a rule
 * that could never act is refused with the field that names it rather than kept and ignored.
 */
import type { Boosts, Item, MerchantRules, Pin } from '../store/types.ts';
import { inCategory, isAvailable } from './catalog.ts';
import { TIERS } from './types.ts';

export interface RuleProblem {
  field: string;
  reason: string;
}

/** What the catalogue served now knows (the engine's `catalogueLabels`). */
export interface CatalogueLabels {
  item(itemId: string): Item | undefined;
  /** Every brand of an item. */
  brands: ReadonlySet<string>;
  /** Every category path of an item, and each of its ancestors ("Home", "Home > Kitchen"). */
  categories: ReadonlySet<string>;
}

export const NO_RULES: MerchantRules = { pins: [], boosts: {} };

/**
 * What is wrong with `rules` (empty: they can be stored): pins of unknown items, two pins
 * competing for one slot of one list or one item pinned twice in it, boosts of unknown items.
 * What cannot act now but may later is kept and named in `warnings`: a pinned item out of stock
 * or delisted, or outside the category its pin is for; boosts of a brand or category no item has.
 */
export function checkMerchantRules(
  rules: MerchantRules,
  labels: CatalogueLabels,
): { problems: RuleProblem[]; warnings: RuleProblem[] } {
  const problems: RuleProblem[] = [];
  const warnings: RuleProblem[] = [];
  rules.pins.forEach((p, k) => {
    const at = `pins/${k}`;
    const item = labels.item(p.itemId);
    if (!item) problems.push({ field: `${at}/itemId`, reason: `'${p.itemId}' is not in the catalogue` });
    else if (!isAvailable(item))
      warnings.push({
        field: `${at}/itemId`,
        reason: `'${p.itemId}' is out of stock or delisted: not shown until it is back`,
      });
    for (let j = 0; j < k; j++) {
      const other = rules.pins[j]!;
      if (!overlap(p, other)) continue;
      if (other.slot === p.slot)
        problems.push({
          field: `${at}/slot`,
          reason: `slot ${p.slot} of the same lists is pinned by pins/${j}`,
        });
      else if (other.itemId === p.itemId)
        problems.push({
          field: `${at}/itemId`,
          reason: `'${p.itemId}' is pinned in the same lists by pins/${j}`,
        });
    }
    if (p.category !== undefined && !labels.categories.has(p.category))
      warnings.push({ field: `${at}/category`, reason: `no item is in category '${p.category}'` });
    else if (item && p.category !== undefined && !inCategory(item, p.category))
      warnings.push({
        field: `${at}/category`,
        reason: `'${p.itemId}' is not in '${p.category}': never shown in its lists`,
      });
  });
  for (const id of Object.keys(rules.boosts.itemIds ?? {}))
    if (!labels.item(id))
      problems.push({ field: `boosts/itemIds/${id}`, reason: `'${id}' is not in the catalogue` });
  for (const brand of Object.keys(rules.boosts.brands ?? {}))
    if (!labels.brands.has(brand))
      warnings.push({ field: `boosts/brands/${brand}`, reason: `no item is of brand '${brand}'` });
  for (const path of Object.keys(rules.boosts.categories ?? {}))
    if (!labels.categories.has(path))
      warnings.push({ field: `boosts/categories/${path}`, reason: `no item is in category '${path}'` });
  return { problems, warnings };
}

/** Whether some list shows both pins: a tier in common, and a category one of them allows. */
function overlap(a: Pin, b: Pin): boolean {
  const tiersA: readonly string[] = a.tiers ?? TIERS;
  const sharesTier = (b.tiers ?? TIERS).some((t) => tiersA.includes(t));
  const sharesCategory = a.category === undefined || b.category === undefined || a.category === b.category;
  return sharesTier && sharesCategory;
}

/** `rules` without empty boost maps, so what is stored and answered is what was meant. */
export function tidyRules(rules: MerchantRules): MerchantRules {
  const boosts: Boosts = {};
  for (const k of ['itemIds', 'brands', 'categories'] as const) {
    const m = rules.boosts[k];
    if (m && Object.keys(m).length) boosts[k] = m;
  }
  return { pins: rules.pins, boosts };
}
