import { Redis } from 'ioredis';
import { afterAll, describe } from 'vitest';
import { RedisRealtime } from '../../../src/realtime/redis-realtime.ts';
import { describeRealtime } from '../../helpers/describe-realtime.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const redis = available ? new Redis(REDIS_URL) : null;

afterAll(async () => {
  await redis?.quit();
});

describe.runIf(available)('RedisRealtime', () => {
  describeRealtime('redis', async (capacity) => {
    const prefix = `${uniqueName('shelf_rt')}:`;
    const state = new RedisRealtime(redis!, { prefix, capacity });
    return {
      state,
      async cleanup() {
        const keys = await redis!.keys(`${prefix}*`);
        if (keys.length) await redis!.del(...keys);
      },
    };
  });
});
