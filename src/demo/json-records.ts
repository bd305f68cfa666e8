/**
 * The JSONL form of items, users and events: DESIGN.md field names in a fixed order, times as
 * ISO-8601 strings, absent optional fields left out. Fixed order keeps the files byte-stable.
 */
import type { Item, ShelfEvent, User } from '../store/types.ts';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function itemRecord(item: Item): Record<string, unknown> {
  return {
    itemId: item.itemId,
    title: item.title,
    description: item.description,
    categories: item.categories,
    brand: item.brand,
    price: item.price,
    currency: item.currency,
    stock: item.stock,
    status: item.status,
    publishedAt: iso(item.publishedAt),
    repurchasable: item.repurchasable,
    attributes: item.attributes,
  };
}

export function userRecord(user: User): Record<string, unknown> {
  return {
    userId: user.userId,
    attributes: user.attributes,
    createdAt: iso(user.createdAt),
    consent: { personalization: user.consent.personalization },
  };
}

export function eventRecord(event: ShelfEvent): Record<string, unknown> {
  return {
    eventId: event.eventId,
    type: event.type,
    userId: event.userId,
    sessionId: event.sessionId,
    itemId: event.itemId,
    quantity: event.quantity,
    price: event.price,
    value: event.value,
    recommendationId: event.recommendationId,
    timestamp: iso(event.timestamp),
    context: event.context,
  };
}

/** One JSONL line per record (`JSON.stringify` drops the undefined fields). */
export function toJsonl<T>(records: readonly T[], toRecord: (r: T) => Record<string, unknown>): string {
  let out = '';
  for (const r of records) out += JSON.stringify(toRecord(r)) + '\n';
  return out;
}
