/**
 * The synthetic catalogue: brands that specialise in departments, items in leaf categories with
 * titles from the category vocabulary, log-normal prices, stock, publication dates and a
 * power-law popularity within each leaf. Also the indexes the event simulator samples from.
 */
import type { Rng } from '../../models/random.ts';
import type { Item } from '../store/types.ts';
import { BRAND_SYLLABLES } from './catalogue-vocabulary.ts';
import type { CategoryTree } from './category-tree.ts';
import { cumulative, logNormal, pickCumulative, pickOne, shuffleInPlace, uniform } from './sampling.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Share of items published in the 72 h before `now` (new arrivals). */
export const NEW_ITEM_SHARE = 0.03;
/** Share of items with `stock: 0`. */
export const OUT_OF_STOCK_SHARE = 0.05;
/** Share of items delisted at some point before `now`. */
export const DELISTED_SHARE = 0.02;
/** Share of items listed in a second leaf of the same department. */
const CROSS_LISTED_SHARE = 0.03;
/** Exponent of the within-leaf popularity power law: weight = 1 / (rank + 1)^a. */
const POPULARITY_EXPONENT = 1.2;
/** Chance that an item's brand is one of its department's specialists. */
const SPECIALIST_SHARE = 0.85;

export interface Brand {
  name: string;
  /** Department indices the brand specialises in; empty for generalists. */
  specialities: number[];
  /** Price multiplier (premium brands > 1). */
  premium: number;
}

/** Weighted items of one leaf (or of one brand within a leaf), most popular first. */
export interface ItemPool {
  items: Int32Array;
  cum: Float64Array;
}

export interface Catalogue {
  items: Item[];
  brands: Brand[];
  /** Item index → primary leaf index. */
  itemLeaf: Int32Array;
  /** Item index → brand index, -1 when unbranded. */
  itemBrand: Int32Array;
  itemPublishedAt: Float64Array;
  /** Epoch ms at which the item left the catalogue; Infinity when still listed. */
  itemDelistedAt: Float64Array;
  /** Leaf index → its items weighted by popularity; entry 0 is an old, always-listed bestseller. */
  leafPools: ItemPool[];
  /** `leaf * brands.length + brand` → that brand's items in that leaf. */
  leafBrandPools: Map<number, ItemPool>;
  /** Leaf index → how much attention the leaf gets. */
  leafWeight: Float64Array;
  /** Node index → running sums of `leafWeight` over the node's leaves. */
  nodeLeafCum: Float64Array[];
}

export interface CatalogueOptions {
  items: number;
  now: number;
  /** Days of event history; the oldest items predate it. */
  days: number;
  currency: string;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function titleCase(s: string): string {
  return s.split(' ').map(capitalise).join(' ');
}

function makeBrands(count: number, departments: number, rng: Rng): Brand[] {
  const names = new Set<string>();
  const brands: Brand[] = [];
  while (brands.length < count) {
    const syllables = 2 + (rng.next() < 0.35 ? 1 : 0);
    let name = '';
    for (let s = 0; s < syllables; s++) name += pickOne(BRAND_SYLLABLES, rng);
    name = capitalise(name);
    if (names.has(name) || name.length < 4) continue;
    names.add(name);
    const i = brands.length;
    const specialities: number[] = [];
    // Every sixth brand is a generalist; the others cover departments round-robin, some two.
    if (i % 6 !== 5) {
      specialities.push(i % departments);
      if (rng.next() < 0.3) {
        const second = rng.int(departments);
        if (second !== specialities[0]) specialities.push(second);
      }
    }
    brands.push({ name, specialities, premium: logNormal(rng, 1, 0.25) });
  }
  return brands;
}

function roundPrice(p: number): number {
  if (p < 2) return Math.max(0.49, Math.round(p * 100) / 100);
  return Math.round(p) - 0.01;
}

/** Builds the catalogue; deterministic for a given `rng` state. */
export function buildCatalogue(tree: CategoryTree, options: CatalogueOptions, rng: Rng): Catalogue {
  const { now, days, currency } = options;
  const nItems = options.items;
  const nLeaves = tree.leafSpecs.length;
  if (nItems < nLeaves) throw new RangeError(`need at least ${nLeaves} items (one per leaf), got ${nItems}`);
  const nDepts = tree.departments.length;
  const brands = makeBrands(Math.min(400, Math.max(12, Math.round(nItems / 50))), nDepts, rng);

  // Attention per leaf: department popularity × a log-normal leaf factor.
  const leafWeight = new Float64Array(nLeaves);
  for (let l = 0; l < nLeaves; l++) {
    leafWeight[l] = tree.departments[tree.leafDepartment[l]!]!.popularity * logNormal(rng, 1, 0.6);
  }
  const nodeLeafCum = tree.nodes.map((node) => cumulative(Array.from(node.leaves, (l) => leafWeight[l]!)));

  // Leaf of each item: one per leaf, the rest in proportion to a catalogue-size factor.
  const leafSize = cumulative(Array.from(leafWeight, (w) => Math.sqrt(w) * logNormal(rng, 1, 0.4)));
  const itemLeaf = new Int32Array(nItems);
  for (let i = 0; i < nItems; i++) itemLeaf[i] = i < nLeaves ? i : pickCumulative(leafSize, rng);
  shuffleInPlace(itemLeaf, rng);

  // Brands by department: specialists with Zipf-like market shares, generalists anywhere.
  const specialists: { brands: number[]; cum: Float64Array }[] = [];
  for (let d = 0; d < nDepts; d++) {
    const list = brands.flatMap((b, i) => (b.specialities.includes(d) ? [i] : []));
    specialists.push({ brands: list, cum: cumulative(list.map((_, r) => 1 / (r + 1))) });
  }

  const width = Math.max(5, String(nItems).length);
  const items: Item[] = new Array<Item>(nItems);
  const itemBrand = new Int32Array(nItems);
  const itemPublishedAt = new Float64Array(nItems);
  const itemDelistedAt = new Float64Array(nItems).fill(Infinity);
  const leafMembers: number[][] = Array.from({ length: nLeaves }, () => []);
  for (let i = 0; i < nItems; i++) leafMembers[itemLeaf[i]!]!.push(i);
  // The first member of each leaf is its long-listed bestseller (rank 0, published before the window).
  const anchor = new Uint8Array(nItems);
  for (const members of leafMembers) anchor[members[0]!] = 1;

  const oldest = now - Math.max(365, days + 30) * DAY;
  for (let i = 0; i < nItems; i++) {
    const l = itemLeaf[i]!;
    const d = tree.leafDepartment[l]!;
    const dept = tree.departments[d]!;
    const spec = tree.leafSpecs[l]!;
    const spc = specialists[d]!;
    let b = -1;
    const u = rng.next();
    if (u < SPECIALIST_SHARE && spc.brands.length > 0) b = spc.brands[pickCumulative(spc.cum, rng)]!;
    else if (u < 0.98) b = rng.int(brands.length);
    itemBrand[i] = b;
    const brand = b >= 0 ? brands[b]! : undefined;

    let publishedAt: number;
    if (anchor[i]) publishedAt = now - (days + uniform(rng, 30, 365)) * DAY;
    else if (rng.next() < NEW_ITEM_SHARE) publishedAt = now - uniform(rng, 1, 71) * HOUR;
    else publishedAt = uniform(rng, oldest, now - 72 * HOUR);
    publishedAt = Math.floor(publishedAt / 1000) * 1000;
    itemPublishedAt[i] = publishedAt;
    let status: Item['status'] = 'active';
    if (!anchor[i] && publishedAt < now - 7 * DAY && rng.next() < DELISTED_SHARE) {
      status = 'delisted';
      itemDelistedAt[i] = uniform(rng, publishedAt + DAY, now);
    }

    const noun = pickOne(spec.nouns, rng);
    const adjective = pickOne(dept.adjectives, rng);
    const attrValue = pickOne(dept.attribute.values, rng);
    let title = `${brand ? brand.name + ' ' : ''}${titleCase(adjective)} ${titleCase(noun)}`;
    if (dept.attribute.key === 'colour' && rng.next() < 0.5) title += `, ${capitalise(String(attrValue))}`;
    let adjective2 = pickOne(dept.adjectives, rng);
    if (adjective2 === adjective) adjective2 = pickOne(dept.adjectives, rng);
    let description =
      `${capitalise(adjective2)} ${noun}${brand ? ` from ${brand.name}` : ''}, ${pickOne(dept.features, rng)}. ` +
      `Ideal for ${pickOne(dept.uses, rng)}.`;
    if (spec.consumable) description += ' Save with repeat orders.';

    const price = roundPrice(logNormal(rng, spec.medianPrice * (brand?.premium ?? 0.8), 0.4));
    const stock = rng.next() < OUT_OF_STOCK_SHARE ? 0 : Math.max(1, Math.round(logNormal(rng, 40, 1)));
    const categories = [tree.nodes[tree.leafNode[l]!]!.path];
    if (rng.next() < CROSS_LISTED_SHARE) {
      const subNode = tree.nodes[tree.leafNode[l]!]!.parent;
      const siblings = tree.nodes[tree.nodes[subNode]!.parent]!.leaves;
      const other = siblings[rng.int(siblings.length)]!;
      if (other !== l) categories.push(tree.nodes[tree.leafNode[other]!]!.path);
    }
    const item: Item = {
      itemId: `sku-${String(i + 1).padStart(width, '0')}`,
      title,
      description,
      categories,
      price,
      currency,
      stock,
      status,
      publishedAt,
      repurchasable: spec.consumable,
      attributes: { [dept.attribute.key]: attrValue },
    };
    if (brand) item.brand = brand.name;
    items[i] = item;
  }

  // Popularity: a random rank within the leaf (bestseller first), weight 1 / (rank + 1)^a.
  const leafPools: ItemPool[] = [];
  const leafBrandPools = new Map<number, ItemPool>();
  for (let l = 0; l < nLeaves; l++) {
    const members = leafMembers[l]!;
    const rest = members.slice(1);
    shuffleInPlace(rest, rng);
    const ranked = Int32Array.from([members[0]!, ...rest]);
    const weights = Array.from(ranked, (_, r) => 1 / Math.pow(r + 1, POPULARITY_EXPONENT));
    leafPools.push({ items: ranked, cum: cumulative(weights) });
    const byBrand = new Map<number, { items: number[]; weights: number[] }>();
    ranked.forEach((item, r) => {
      const b = itemBrand[item]!;
      if (b < 0) return;
      let entry = byBrand.get(b);
      if (!entry) byBrand.set(b, (entry = { items: [], weights: [] }));
      entry.items.push(item);
      entry.weights.push(weights[r]!);
    });
    for (const [b, entry] of byBrand) {
      leafBrandPools.set(l * brands.length + b, {
        items: Int32Array.from(entry.items),
        cum: cumulative(entry.weights),
      });
    }
  }

  return {
    items,
    brands,
    itemLeaf,
    itemBrand,
    itemPublishedAt,
    itemDelistedAt,
    leafPools,
    leafBrandPools,
    leafWeight,
    nodeLeafCum,
  };
}
