import { describe, expect, it } from 'vitest';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { describeRealtime } from '../../helpers/describe-realtime.ts';

describeRealtime('memory', async (capacity) => {
  const state = new MemoryRealtime({ capacity });
  return { state, cleanup: () => state.close() };
});

describe('MemoryRealtime', () => {
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
