/**
 * Plays the session plan: each session browses (mostly in the shopper's favourite categories,
 * power-law popular items, preferred brands), runs the funnel view → click → add_to_cart →
 * purchase with drop-off, sometimes removes from the cart, re-orders consumables, dislikes; some
 * purchases are returned or rated days later. Events come out in time order, with ids
 * `gen-<seed>-<n>`, a batch at a time; memory holds only the sessions still in flight.
 */
import { createRng } from '../../models/random.ts';
import type { Rng } from '../../models/random.ts';
import type { AttributeValue, EventType, ShelfEvent, User } from '../store/types.ts';
import type { Catalogue, ItemPool } from './build-catalogue.ts';
import type { Shopper } from './build-shoppers.ts';
import type { CategoryTree } from './category-tree.ts';
import type { SessionPlan } from './plan-sessions.ts';
import { cumulative, geometric, pickCumulative, pickOne, uniform } from './sampling.ts';

const SECOND = 1000;
const DAY = 86_400_000;

/** Funnel: of 100 views about 40 clicks, 10 carts, 3 purchases. */
export const FUNNEL = {
  click: 0.4,
  /** Per click; times the shopper's conversion multiplier. */
  cart: 0.2,
  /** Per cart line, before checkout. */
  remove: 0.15,
  /** Per session with a cart; times the shopper's conversion multiplier. */
  checkout: 0.3,
  /** Per purchase line, 2–21 days later. */
  return: 0.05,
  /** Per purchase line, 1–14 days later. */
  rating: 0.12,
} as const;
const MEAN_EXTRA_VIEWS = 4;
const MAX_VIEWS = 25;
/** Chance that the next view stays in the same leaf when browsing in the same mode. */
const STAY_IN_LEAF = 0.5;
const DISLIKE_FAVOURITE = 0.005;
const DISLIKE_EXPLORING = 0.03;
/** Chance that a shopper with consumables bought before starts a session by re-ordering one. */
const REORDER = 0.2;
const REORDER_CHECKOUT = 0.85;
/** Sessions of known shoppers that start anonymous and log in after a few events. */
const LOGIN_LATER = 0.08;
/** Anonymous visitors convert less. */
const VISITOR_CONVERSION = 0.5;
/** Rough events per session, for sizing the plan to an event budget. */
export const EVENTS_PER_SESSION = 8;

const DEVICES = ['mobile', 'desktop', 'tablet'] as const;
const BROWSE_PAGES = ['category', 'search', 'home', 'recommendations'] as const;
const BROWSE_PAGE_CUM = cumulative([0.45, 0.25, 0.15, 0.15]);
const RATING_FAVOURITE = cumulative([0, 0, 0.1, 0.4, 0.5]);
const RATING_EXPLORING = cumulative([0.1, 0.15, 0.3, 0.3, 0.15]);

export interface SimulationWorld {
  seed: number;
  now: number;
  tree: CategoryTree;
  catalogue: Catalogue;
  users: readonly User[];
  shoppers: readonly Shopper[];
  plan: SessionPlan;
}

interface Pending {
  t: number;
  seq: number;
  event: ShelfEvent;
}

/** Min-heap of events by (timestamp, creation order). */
class EventQueue {
  private readonly heap: Pending[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  peekTime(): number {
    return this.heap[0]!.t;
  }

  push(event: ShelfEvent): void {
    const h = this.heap;
    const node = { t: event.timestamp, seq: this.seq++, event };
    let i = h.length;
    h.push(node);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(node, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = node;
  }

  pop(): ShelfEvent {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top.event;
  }
}

function less(a: Pending, b: Pending): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

interface CartLine {
  item: number;
  quantity: number;
  favourite: boolean;
  reorder: boolean;
}

/** Yields the events of the whole plan in time order, `batchSize` at a time. */
export function* simulateEvents(world: SimulationWorld, batchSize: number): Generator<ShelfEvent[]> {
  const { seed, now, tree, catalogue, users, shoppers, plan } = world;
  const { items, itemPublishedAt, itemDelistedAt, leafPools, leafBrandPools, nodeLeafCum } = catalogue;
  const nBrands = catalogue.brands.length;
  const allLeavesCum = cumulative(catalogue.leafWeight);
  const departments = tree.nodes.flatMap((n, i) => (n.depth === 0 ? [i] : []));
  const departmentCum = cumulative(departments.map((d) => nodeLeafCum[d]!.at(-1)!));
  const reorderable: (number[] | undefined)[] = new Array(shoppers.length);
  const queue = new EventQueue();
  let batch: ShelfEvent[] = [];
  let n = 0;

  const listed = (i: number, t: number): boolean => itemPublishedAt[i]! <= t && itemDelistedAt[i]! > t;
  const fromPool = (pool: ItemPool, t: number, rng: Rng, tries: number): number => {
    for (let k = 0; k < tries; k++) {
      const i = pool.items[pickCumulative(pool.cum, rng)]!;
      if (listed(i, t)) return i;
    }
    return -1;
  };
  const leafOf = (node: number, rng: Rng): number =>
    tree.nodes[node]!.leaves[pickCumulative(nodeLeafCum[node]!, rng)]!;
  const isFavourite = (item: number, favourites: readonly number[]): boolean => {
    const leaf = catalogue.itemLeaf[item]!;
    for (const f of favourites) {
      const leaves = tree.nodes[f]!.leaves;
      if (leaf >= leaves[0]! && leaf <= leaves[leaves.length - 1]!) return true;
    }
    return false;
  };

  const flush = (before: number): void => {
    while (queue.size > 0 && queue.peekTime() < before) {
      const event = queue.pop();
      event.eventId = `gen-${seed}-${++n}`;
      batch.push(event);
    }
  };

  for (let s = 0; s < plan.start.length; s++) {
    flush(plan.start[s]!);
    while (batch.length >= batchSize) {
      yield batch.slice(0, batchSize);
      batch = batch.slice(batchSize);
    }
    const rng = createRng(plan.seed[s]!);
    const u = plan.shopper[s]!;
    const shopper = u >= 0 ? shoppers[u]! : undefined;
    const userId = u >= 0 ? users[u]!.userId : undefined;
    const sessionId = `sess-${seed}-${s + 1}`;
    // Anonymous visitors browse around one department of the moment.
    const favourites = shopper ? shopper.favouriteNodes : [departments[pickCumulative(departmentCum, rng)]!];
    const favouriteShare = shopper ? shopper.favouriteShare : 0.6;
    const conversion = shopper ? shopper.conversion : VISITOR_CONVERSION;
    const device = DEVICES[shopper && rng.next() < 0.8 ? shopper.device : rng.int(3)]!;
    let anonymousPrefix = shopper && rng.next() < LOGIN_LATER ? 1 + rng.int(3) : 0;
    let t = plan.start[s]!;

    const emit = (type: EventType, item: number, page: string, extra?: Partial<ShelfEvent>): void => {
      if (t > now) return;
      const event: ShelfEvent = { eventId: '', type, itemId: items[item]!.itemId, timestamp: t };
      if (userId !== undefined && anonymousPrefix === 0) event.userId = userId;
      event.sessionId = sessionId;
      if (anonymousPrefix > 0) anonymousPrefix--;
      if (extra) Object.assign(event, extra);
      const context: Record<string, AttributeValue> = { device, page };
      event.context = context;
      queue.push(event);
    };
    const step = (lo: number, hi: number): void => {
      t += Math.floor(uniform(rng, lo, hi) * SECOND);
    };
    const quantityOf = (item: number): number =>
      items[item]!.repurchasable ? (rng.next() < 0.3 ? 2 + rng.int(2) : 1) : rng.next() < 0.05 ? 2 : 1;
    const cart: CartLine[] = [];

    const history = u >= 0 ? reorderable[u] : undefined;
    if (history && history.length > 0 && rng.next() < REORDER) {
      const item = pickOne(history, rng);
      if (listed(item, t)) {
        const quantity = quantityOf(item);
        const price = items[item]!.price;
        emit('view', item, 'account');
        step(3, 20);
        emit('click', item, 'account');
        step(5, 40);
        emit('add_to_cart', item, 'product', { quantity, price });
        step(10, 60);
        cart.push({ item, quantity, favourite: isFavourite(item, favourites), reorder: true });
      }
    }

    const views = Math.min(MAX_VIEWS, 1 + geometric(rng, MEAN_EXTRA_VIEWS));
    let prevMode = -1;
    let prevLeaf = -1;
    for (let v = 0; v < views; v++) {
      const mode = rng.next() < favouriteShare ? 1 : 0;
      let leaf: number;
      if (mode === prevMode && rng.next() < STAY_IN_LEAF) leaf = prevLeaf;
      else if (mode === 1) leaf = leafOf(pickOne(favourites, rng), rng);
      else leaf = pickCumulative(allLeavesCum, rng);
      prevMode = mode;
      prevLeaf = leaf;
      let item = -1;
      if (mode === 1 && shopper && shopper.brands.length > 0 && rng.next() < shopper.brandStrength) {
        const pool = leafBrandPools.get(leaf * nBrands + pickOne(shopper.brands, rng));
        if (pool) item = fromPool(pool, t, rng, 4);
      }
      if (item < 0) item = fromPool(leafPools[leaf]!, t, rng, 8);
      // The leaf's bestseller is listed throughout the event window.
      if (item < 0) item = leafPools[leaf]!.items[0]!;
      const favourite = isFavourite(item, favourites);
      const page = BROWSE_PAGES[pickCumulative(BROWSE_PAGE_CUM, rng)]!;

      emit('view', item, page);
      if (rng.next() < (favourite ? DISLIKE_FAVOURITE : DISLIKE_EXPLORING)) {
        step(2, 15);
        emit('dislike', item, page);
        step(5, 30);
        continue;
      }
      step(3, 40);
      if (rng.next() < FUNNEL.click) {
        emit('click', item, page);
        step(10, 120);
        if (rng.next() < FUNNEL.cart * conversion) {
          const quantity = quantityOf(item);
          emit('add_to_cart', item, 'product', { quantity, price: items[item]!.price });
          cart.push({ item, quantity, favourite, reorder: false });
          step(5, 60);
        }
      }
    }

    for (let k = cart.length - 1; k >= 0; k--) {
      if (cart[k]!.reorder || rng.next() >= FUNNEL.remove) continue;
      const line = cart[k]!;
      emit('remove_from_cart', line.item, 'cart', {
        quantity: line.quantity,
        price: items[line.item]!.price,
      });
      cart.splice(k, 1);
      step(3, 30);
    }

    const checkout = cart.some((l) => l.reorder)
      ? REORDER_CHECKOUT
      : Math.min(0.95, FUNNEL.checkout * conversion);
    if (cart.length > 0 && rng.next() < checkout) {
      step(20, 120);
      for (const line of cart) {
        const price = items[line.item]!.price;
        emit('purchase', line.item, 'checkout', { quantity: line.quantity, price });
        const purchasedAt = t;
        step(1, 3);
        if (u < 0 || purchasedAt > now) continue;
        if (items[line.item]!.repurchasable) {
          const list = (reorderable[u] ??= []);
          if (!list.includes(line.item)) list.push(line.item);
        }
        // Later, outside the session: a return or a rating, under the user id only.
        if (rng.next() < FUNNEL.return) {
          const at = purchasedAt + Math.floor(uniform(rng, 2, 21) * DAY);
          if (at <= now) {
            queue.push({
              eventId: '',
              type: 'return',
              userId,
              itemId: items[line.item]!.itemId,
              quantity: line.quantity,
              price,
              timestamp: at,
            });
          }
        } else if (rng.next() < FUNNEL.rating) {
          const at = purchasedAt + Math.floor(uniform(rng, 1, 14) * DAY);
          const value = 1 + pickCumulative(line.favourite ? RATING_FAVOURITE : RATING_EXPLORING, rng);
          if (at <= now) {
            queue.push({
              eventId: '',
              type: 'rating',
              userId,
              itemId: items[line.item]!.itemId,
              value,
              timestamp: at,
            });
          }
        }
      }
    }
  }
  flush(Infinity);
  for (let k = 0; k < batch.length; k += batchSize) yield batch.slice(k, k + batchSize);
}
