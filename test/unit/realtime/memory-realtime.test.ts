import { describe, expect, it } from 'vitest';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { describeRealtime } from '../../helpers/describe-realtime.ts';

describeRealtime('memory', async (capacity, trending) => {
  const state = new MemoryRealtime({ capacity, trending });
  return { state, cleanup: () => state.close() };
});

describe('MemoryRealtime', () => {
  it("drops an erased user's place in trending's cap at once, and keeps it on consent withdrawn", async () => {
    const state = new MemoryRealtime();
    const now = Date.UTC(2026, 5, 10, 12);
    const view = (visitor: string, timestamp = now - 1000) => ({
      visitor,
      itemId: 'x',
      type: 'view' as const,
      timestamp,
      weight: 1,
    });
    // Yesterday's and today's keys.
    for (const visitor of ['u:gone', 'u:withdrawn', 'u:stays']) {
      expect(await state.trending.add([view(visitor, now - 86_400_000), view(visitor)], now)).toBe(2);
    }
    await state.erase({ userId: 'gone' });
    await state.forget({ userId: 'withdrawn' });
    // The cap holds nothing of the erased user: its id is nowhere in it. The others stay capped.
    expect(await state.trending.add([view('u:gone', now - 86_400_000), view('u:gone')], now)).toBe(2);
    expect(await state.trending.add([view('u:withdrawn'), view('u:stays')], now)).toBe(0);
  });

  it('drops the least recently written subject beyond maxSubjects', async () => {
    const state = new MemoryRealtime({ maxSubjects: 2 });
    await state.record({ userId: 'a' }, [{ itemId: 'i', type: 'view', timestamp: 1 }]);
    await state.record({ userId: 'b' }, [{ itemId: 'i', type: 'view', timestamp: 1 }]);
    await state.record({ userId: 'a' }, [{ itemId: 'j', type: 'view', timestamp: 2 }]);
    await state.record({ userId: 'c' }, [{ itemId: 'i', type: 'view', timestamp: 1 }]);
    expect(await state.recent({ userId: 'b' })).toEqual([]);
    expect((await state.recent({ userId: 'a' })).length).toBe(2);
  });
});
