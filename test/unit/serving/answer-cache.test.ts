import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../../src/serving/answer-cache.ts';
import type { CacheEntry } from '../../../src/serving/answer-cache.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';

const model = {};
const rules = { pins: [], boosts: {} };
const req: RecommendRequest = { tier: 'homepage' };
const entry = (at = 0): CacheEntry<object> => ({
  model,
  config: rules,
  at,
  stamp: 's',
  catalogVersion: 1,
  indices: [1],
  items: [],
  itemIds: [],
  req,
  limit: 20,
});
const allowed = () => true;

describe('AnswerCache', () => {
  it('evicts the least recently used list: a list read again outlives older ones', () => {
    const cache = new AnswerCache<object>({ ttlMs: 1000, entries: 4 });
    for (const k of ['a', 'b', 'c', 'd']) cache.set(k, entry());
    expect(cache.get('a', model, rules, 0, 's', 1, allowed, req)).not.toBeNull();
    cache.set('e', entry());
    cache.set('f', entry());
    const left = ['a', 'b', 'c', 'd', 'e', 'f'].filter((k) =>
      cache.get(k, model, rules, 0, 's', 1, allowed, req),
    );
    expect(left).toEqual(['a', 'd', 'e', 'f']);
    expect(cache.stats()).toMatchObject({ size: 4 });
  });

  it('re-checks the items only after a catalogue change, and drops a list that fails', () => {
    const cache = new AnswerCache<object>({ ttlMs: 1000, entries: 10 });
    cache.set('a', entry());
    let checks = 0;
    const check = (ok: boolean) => () => (checks++, ok);
    expect(cache.get('a', model, rules, 5, 's', 1, check(false), req)).not.toBeNull();
    expect(checks).toBe(0);
    expect(cache.get('a', model, rules, 5, 's', 2, check(true), req)).not.toBeNull();
    expect(cache.get('a', model, rules, 5, 's', 2, check(false), req)).not.toBeNull(); // checked at 2 already
    expect(cache.get('a', model, rules, 5, 's', 3, check(false), req)).toBeNull();
    expect(checks).toBe(2);
    expect(cache.stats()).toEqual({ hits: 3, misses: 1, size: 0 });
  });

  it('reuses a list only under the pins and boosts it was made with', () => {
    const cache = new AnswerCache<object>({ ttlMs: 1000, entries: 10 });
    cache.set('a', entry());
    cache.set('b', entry());
    // The same rules, another configuration object (an experiment variant built on them): reused.
    expect(cache.get('a', model, { ...rules }, 0, 's', 1, allowed, req)).not.toBeNull();
    expect(
      cache.get('a', model, { ...rules, pins: [{ itemId: 'x', slot: 0 }] }, 0, 's', 1, allowed, req),
    ).toBeNull();
    expect(
      cache.get('b', model, { ...rules, boosts: { brands: { b: 2 } } }, 0, 's', 1, allowed, req),
    ).toBeNull();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, size: 0 });
  });

  it('spreads the expiry of lists made together over the last quarter of the ttl, reproducibly', () => {
    const expiries = (seed?: number) => {
      const cache = new AnswerCache<object>({ ttlMs: 1000, entries: 1000, ...(seed ? { seed } : {}) });
      const keys = Array.from({ length: 400 }, (_, i) => `k${i}`);
      for (const k of keys) cache.set(k, entry());
      const left = (now: number) =>
        keys.filter((k) => cache.get(k, model, rules, now, 's', 1, allowed, req)).length;
      // A read at a time drops what has expired by then, so the counts fall as `now` grows.
      return [749, 800, 875, 950, 1000, 1001].map(left);
    };
    const [before, at800, at875, at950, atTtl, after] = expiries();
    expect(before).toBe(400); // none before three quarters of the ttl
    expect(at800).toBeGreaterThan(300); // about 320: a fifth of the spread gone
    expect(at800).toBeLessThan(340);
    expect(at875).toBeGreaterThan(180); // about half
    expect(at875).toBeLessThan(220);
    expect(at950).toBeGreaterThan(60); // about a fifth
    expect(at950).toBeLessThan(100);
    expect(atTtl).toBe(0);
    expect(after).toBe(0);
    expect(expiries()).toEqual([before, at800, at875, at950, atTtl, after]);
    expect(expiries(7)).not.toEqual(expiries());
  });

  it("lists a version's entries most recently used first, up to a count", () => {
    const cache = new AnswerCache<object>({ ttlMs: 1000, entries: 10 });
    const other = {};
    for (const k of ['a', 'b', 'c', 'd']) cache.set(k, entry(k.charCodeAt(0)));
    cache.set('x', { ...entry(), model: other });
    // A read of an older entry makes it the most recent.
    expect(cache.get('a', model, rules, 100, 's', 1, allowed, req)).not.toBeNull();
    expect(cache.recent(model, 10).map(([k, e]) => `${k}${e.at}`)).toEqual(['a97', 'd100', 'c99', 'b98']);
    expect(cache.recent(model, 2).map(([k]) => k)).toEqual(['a', 'd']);
    expect(cache.recent(other, 10).map(([k]) => k)).toEqual(['x']);
  });

  it('keeps staged entries out of reach until committed, forgets a user in them too, and commits the first staged as most recent', () => {
    const cache = new AnswerCache<object>({ ttlMs: 1000, entries: 10 });
    const next = {};
    cache.set('a', entry());
    cache.stage('a', { ...entry(), model: next });
    cache.stage('b', { ...entry(), model: next });
    cache.stage('u', { ...entry(), model: next, userId: 'gone' });
    // The version still served answers from its own entry.
    expect(cache.get('a', model, rules, 0, 's', 1, allowed, req)).not.toBeNull();
    expect(cache.get('b', next, rules, 0, 's', 1, allowed, req)).toBeNull();
    cache.forgetUser('gone');
    cache.commitStaged();
    expect(cache.recent(next, 10).map(([k]) => k)).toEqual(['a', 'b']);
    expect(cache.get('a', next, rules, 0, 's', 1, allowed, req)).not.toBeNull();
    expect(cache.get('u', next, rules, 0, 's', 1, allowed, req)).toBeNull();
    cache.commitStaged();
    expect(cache.stats().size).toBe(2);
  });
});
