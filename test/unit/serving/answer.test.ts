import { describe, expect, it } from 'vitest';
import { answer, answerItems, timeOrderedId } from '../../../src/serving/answer.ts';
import type { Impression } from '../../../src/serving/types.ts';
import { served } from '../../helpers/served-fixture.ts';

describe('answer: ids, items and the impression', () => {
  it('names items by id with rounded scores, frozen, and records one impression per answer', () => {
    const s = served();
    const items = answerItems(s.catalog, [
      { index: 2, score: 0.123456, reason: 'trending now' },
      { index: 0, score: 1 / 3, reason: 'recommended for you' },
    ]);
    expect(items).toEqual([
      { itemId: 'c', score: 0.1235, reason: 'trending now' },
      { itemId: 'a', score: 0.3333, reason: 'recommended for you' },
    ]);
    expect(Object.isFrozen(items) && Object.isFrozen(items[0])).toBe(true);
    const seen: Impression[] = [];
    const req = { tier: 'homepage' as const, sessionId: 's-1', variant: 'B' };
    const who = {
      subject: { sessionId: 's-1' },
      personal: true,
      forgotten: false,
      history: [],
      consumed: new Map(),
      demoted: new Set<string>(),
    };
    const ids = items.map((i) => i.itemId);
    const one = answer('v-test', req, 'preset-2', who, items, 1234, (i) => seen.push(i), ids);
    const two = answer('v-test', req, 'preset-2', who, items, 1235, (i) => seen.push(i), ids);
    expect(one).toMatchObject({ tier: 'homepage', modelVersion: 'v-test', variant: 'B', items });
    expect(one.recommendationId).not.toBe(two.recommendationId);
    expect(seen[0]).toEqual({
      recommendationId: one.recommendationId,
      tier: 'homepage',
      sessionId: 's-1',
      variant: 'B',
      config: 'preset-2',
      modelVersion: 'v-test',
      itemIds: ['c', 'a'],
      timestamp: 1234,
    });
    expect(seen).toHaveLength(2);
  });
});

describe('timeOrderedId', () => {
  it('is a version-7 UUID whose order is the order of its times', () => {
    const at = Date.UTC(2026, 11, 2, 23, 59, 59, 999);
    const ids = [at - 1, at, at + 1, at + 86_400_000].map(timeOrderedId);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[1]!.replace(/-/g, '').slice(0, 12)).toBe(at.toString(16).padStart(12, '0'));
    expect(timeOrderedId(at)).not.toBe(timeOrderedId(at));
  });
});
