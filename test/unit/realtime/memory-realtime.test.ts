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

  it('restores rotation from stored lists and engagements as if it had seen them, and only for a visitor it holds nothing of', async () => {
    const t = Date.UTC(2026, 0, 1);
    const lists = [0, 1, 2, 3].map((k) => ({ itemIds: ['a', 'b', 'c'], at: t + k * 1000 }));
    // A click on `b` at the time of the second list: after it (it ends the streak of two).
    const engaged = [{ itemId: 'b', at: t + 1000 }];
    const live = new MemoryRealtime();
    for (const [k, l] of lists.entries()) {
      await live.rotation.shown({ userId: 'u' }, l.itemIds, l.at);
      if (k === 1) await live.rotation.engaged({ userId: 'u' }, ['b']);
    }
    const restarted = new MemoryRealtime();
    let reads = 0;
    const read = async () => {
      reads++;
      return { lists, engaged };
    };
    await restarted.rotation.restore({ userId: 'u' }, read);
    const at = t + 5000;
    expect([...(await restarted.rotation.demoted({ userId: 'u' }, at))].sort()).toEqual(['a', 'c']);
    expect(await restarted.rotation.demoted({ userId: 'u' }, at)).toEqual(
      await live.rotation.demoted({ userId: 'u' }, at),
    );
    // One more show of `b` demotes it on both: its streak of two was restored too.
    for (const state of [live, restarted]) await state.rotation.shown({ userId: 'u' }, ['b'], t + 6000);
    expect(await restarted.rotation.demoted({ userId: 'u' }, at + 2000)).toEqual(
      await live.rotation.demoted({ userId: 'u' }, at + 2000),
    );
    expect(await restarted.rotation.demoted({ userId: 'u' }, at + 2000)).toContain('b');
    // Held already (restored, or shown since the start): not read, not replayed again.
    await restarted.rotation.restore({ userId: 'u' }, read);
    const shownSince = new MemoryRealtime();
    await shownSince.rotation.shown({ sessionId: 's' }, ['x'], t);
    await shownSince.rotation.restore({ sessionId: 's' }, read);
    expect(reads).toBe(1);
    expect((await shownSince.rotation.demoted({ sessionId: 's' }, at)).size).toBe(0);
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
