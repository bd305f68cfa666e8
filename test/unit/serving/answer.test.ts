import { describe, expect, it } from 'vitest';
import { answer, answerItems } from '../../../src/serving/answer.ts';
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
    const one = answer('v-test', req, 'preset-2', who, items, 1234, (i) => seen.push(i));
    const two = answer('v-test', req, 'preset-2', who, items, 1235, (i) => seen.push(i));
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
