/** One suite every `RealtimeState` implementation must pass. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RealtimeState, RecentEvent } from '../../src/realtime/types.ts';

const ev = (itemId: string, timestamp: number): RecentEvent => ({ itemId, type: 'view', timestamp });

export function describeRealtime(
  name: string,
  make: (capacity: number) => Promise<{ state: RealtimeState; cleanup(): Promise<void> } | null>,
): void {
  describe(`RealtimeState: ${name}`, () => {
    let h: { state: RealtimeState; cleanup(): Promise<void> } | null = null;
    let state: RealtimeState;
    beforeEach(async (ctx) => {
      h = await make(3);
      if (!h) return ctx.skip();
      state = h.state;
    });
    afterEach(async () => {
      await h?.cleanup();
      h = null;
    });

    it('keeps the newest events per subject, newest first, up to its capacity', async () => {
      await state.record({ userId: 'u' }, [ev('a', 1), ev('c', 3)]);
      await state.record({ userId: 'u' }, [ev('b', 2), ev('d', 4)]);
      expect((await state.recent({ userId: 'u' })).map((e) => e.itemId)).toEqual(['d', 'c', 'b']);
      expect((await state.recent({ userId: 'u' }, 1)).map((e) => e.itemId)).toEqual(['d']);
      expect(await state.recent({ userId: 'nobody' })).toEqual([]);
    });

    it('keeps users and sessions apart, and merges a session into a user', async () => {
      await state.record({ sessionId: 'x' }, [ev('s1', 5)]);
      await state.record({ userId: 'x' }, [ev('u1', 1)]);
      expect((await state.recent({ sessionId: 'x' })).map((e) => e.itemId)).toEqual(['s1']);
      await state.mergeSession('x', 'x');
      expect((await state.recent({ userId: 'x' })).map((e) => e.itemId)).toEqual(['s1', 'u1']);
      expect(await state.recent({ sessionId: 'x' })).toEqual([]);
    });

    it('records the same event once', async () => {
      const e = { itemId: 'a', type: 'view' as const, timestamp: 1000 };
      await state.record({ userId: 'dup' }, [e, { ...e, type: 'click' }]);
      await state.record({ userId: 'dup' }, [e]);
      expect(await state.recent({ userId: 'dup' })).toHaveLength(2);
    });

    it('forgets a subject', async () => {
      await state.record({ userId: 'gone' }, [ev('a', 1)]);
      await state.forget({ userId: 'gone' });
      expect(await state.recent({ userId: 'gone' })).toEqual([]);
    });
  });
}
