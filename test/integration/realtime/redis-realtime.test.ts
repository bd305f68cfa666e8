import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisRealtime } from '../../../src/realtime/redis-realtime.ts';
import { describeRealtime } from '../../helpers/describe-realtime.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const redis = available ? new Redis(REDIS_URL) : null;

afterAll(async () => {
  await redis?.quit();
});

describe.runIf(available)('RedisRealtime', () => {
  describeRealtime('redis', async (capacity, trending) => {
    const prefix = `${uniqueName('shelf_rt')}:`;
    const state = new RedisRealtime(redis!, { prefix, capacity, trending });
    return {
      state,
      async cleanup() {
        const keys = await redis!.keys(`${prefix}*`);
        if (keys.length) await redis!.del(...keys);
      },
    };
  });
});

describe.runIf(available)('RedisRealtime rotation in Redis', () => {
  it('reads only the demotions per request, and keeps the streaks hash about as small as the memory rotation', async () => {
    const prefix = `${uniqueName('shelf_rot')}:`;
    const state = new RedisRealtime(redis!, { prefix });
    const rot = state.rotation;
    const H = 3_600_000;
    const t = Date.UTC(2026, 0, 3);
    const u = { userId: 'many' };
    try {
      for (const k of [0, 1, 2]) await rot.shown(u, ['kept'], t + k);
      // 1,200 items over 60 hours, each shown once: all but the last day's are stale.
      for (let l = 0; l < 60; l++)
        await rot.shown(
          u,
          Array.from({ length: 20 }, (_, j) => `i-${l * 20 + j}`),
          t + (l + 1) * H,
        );
      const fields = await redis!.hlen(`${prefix}rot:u:many`);
      // The last 24 hours' 500 streaks, `kept` and the pruning mark, and at most as many again
      // since the last pruning (1,202 without it).
      expect(fields).toBeGreaterThanOrEqual(25 * 20 + 2);
      expect(fields).toBeLessThanOrEqual(2 * (25 * 20 + 2) + 20);
      expect(await redis!.zrange(`${prefix}rotd:u:many`, '0', '-1')).toEqual(['kept']);
      expect([...(await rot.demoted(u, t + 61 * H))]).toEqual(['kept']);
      expect(await redis!.pttl(`${prefix}rotd:u:many`)).toBeGreaterThan(0);
      await state.forget(u);
      expect(await redis!.exists(`${prefix}rot:u:many`, `${prefix}rotd:u:many`)).toBe(0);
    } finally {
      const keys = await redis!.keys(`${prefix}*`);
      if (keys.length) await redis!.del(...keys);
    }
  });

  it('sends its script by SHA on each show, not its text', async () => {
    const prefix = `${uniqueName('shelf_rot')}:`;
    const state = new RedisRealtime(redis!, { prefix });
    const monitor = await redis!.monitor();
    const commands: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.startsWith(prefix))) commands.push(args[0]!.toLowerCase());
    });
    try {
      const t = Date.UTC(2026, 0, 3);
      for (let k = 0; k < 10; k++) await state.rotation.shown({ userId: 'sha' }, ['a', 'b'], t + k);
      for (let wait = 0; commands.length < 10 && wait < 50; wait++)
        await new Promise((r) => setTimeout(r, 20));
      // The first may load it (EVAL after NOSCRIPT) when no other test has yet.
      expect(commands.filter((c) => c === 'evalsha').length).toBeGreaterThanOrEqual(9);
      expect(commands.filter((c) => c === 'eval').length).toBeLessThanOrEqual(1);
    } finally {
      monitor.disconnect();
      const keys = await redis!.keys(`${prefix}*`);
      if (keys.length) await redis!.del(...keys);
    }
  });
});
