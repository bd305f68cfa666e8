/**
 * Trending counters in Redis, shared by every replica (see trending-counters.ts for what
 * counts). Keys, under the real-time prefix (`<SHELF_QUEUE_PREFIX>:rt:`, `shelf:rt:` by default):
 *
 * - `trend:e:<epoch>` sorted set, item → the epoch's counter; a read needs the current and the
 *   previous epoch, so each expires two epochs (two windows) after it starts;
 * - `trend:seen:<day>` set of the cap's keys (visitor, item, type) counted that UTC day, each
 *   as 16 characters of its SHA-256 (no user id kept in Redis; a collision has odds of 2^−96);
 *   kept until the end of the next day;
 * - `trend:touched` sorted set, item → Redis time (ms) of its last change, trimmed to the last
 *   ten minutes: how a replica reads only what changed since its last read;
 * - `trend:seeded` the mark of the one replica that counted the store's window.
 *
 * Memory bound: (items engaged in two windows) × ~2 counter entries, plus the distinct
 * (visitor, item, type) of two days (~70 bytes each), plus the items changed in ten minutes.
 *
 * A batch of events is one script: the cap's check, the counter and the change mark happen
 * together, so two replicas counting the same visitor's events at once count them once.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { capKey, capPeriodOf, CAP_PERIOD_MS } from '../store/engagement-cap.ts';
import type {
  Engagement,
  TrendingCounters,
  TrendingCountersOptions,
  TrendingRead,
} from './trending-counters.ts';
import { withScripts } from './redis-scripts.ts';
import { oldestLiveDay, TrendingEpochs } from './trending-counters.ts';

export interface RedisTrendingOptions extends TrendingCountersOptions {
  /** Key prefix (the real-time state's). */
  prefix: string;
}

/** How long `trend:touched` remembers a change; a replica that read longer ago reads everything. */
const TOUCHED_KEEP_MS = 10 * 60_000;
/** Keys live this much past the time they are last needed (clocks of replicas differ a little). */
const TTL_MARGIN_MS = 60 * 60_000;
/** Events per script call (a script blocks Redis while it runs). */
const BATCH = 500;

/**
 * KEYS: touched, then per event its day's seen set and its epoch's counter. ARGV: the touched
 * set's keep (ms), then per event: the cap's key ('' when already capped: old seeded days), the
 * seen set's TTL, the item, the increment, the counter's TTL. Returns how many counted.
 */
const ADD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local counted = 0
for i = 1, (#KEYS - 1) / 2 do
  local a = 1 + (i - 1) * 5
  local fresh = 1
  if ARGV[a + 1] ~= '' then
    fresh = redis.call('SADD', KEYS[2 * i], ARGV[a + 1])
    if fresh == 1 then redis.call('PEXPIRE', KEYS[2 * i], ARGV[a + 2]) end
  end
  if fresh == 1 then
    redis.call('ZINCRBY', KEYS[2 * i + 1], ARGV[a + 4], ARGV[a + 3])
    redis.call('PEXPIRE', KEYS[2 * i + 1], ARGV[a + 5])
    redis.call('ZADD', KEYS[1], now, ARGV[a + 3])
    counted = counted + 1
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return counted
`;

/**
 * KEYS: touched, the current epoch's counter, the previous one's. ARGV: since (Redis ms), the
 * touched set's keep. Returns [now, 1] when `since` is too old to answer from, else [now, 0,
 * then per item changed since: item, current counter or '', previous counter or ''].
 */
const CHANGED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now - tonumber(ARGV[1]) > tonumber(ARGV[2]) then return { tostring(now), 1 } end
local out = { tostring(now), 0 }
for _, item in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do
  out[#out + 1] = item
  out[#out + 1] = redis.call('ZSCORE', KEYS[2], item) or ''
  out[#out + 1] = redis.call('ZSCORE', KEYS[3], item) or ''
end
return out
`;

interface TrendingScripts {
  shelfTrendingAdd(numKeys: number, ...args: (string | number)[]): Promise<number>;
  shelfTrendingChanged(...args: (string | number)[]): Promise<(string | number)[]>;
}

export class RedisTrending implements TrendingCounters {
  private readonly epochs: TrendingEpochs;
  private readonly prefix: string;
  private readonly scripts: TrendingScripts;

  constructor(
    private readonly redis: Redis,
    options: RedisTrendingOptions,
  ) {
    this.epochs = new TrendingEpochs(options);
    this.prefix = `${options.prefix}trend:`;
    this.scripts = withScripts<TrendingScripts>(redis, {
      shelfTrendingAdd: { lua: ADD },
      shelfTrendingChanged: { lua: CHANGED, numberOfKeys: 3, readOnly: true },
    });
  }

  add(events: readonly Engagement[], now: number): Promise<number> {
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    return this.write(
      events.filter((e) => capPeriodOf(Math.min(e.timestamp, now)) >= oldest),
      now,
      () => true,
    );
  }

  async claimSeed(): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}seeded`, String(Date.now()), 'NX')) === 'OK';
  }

  async seed(events: readonly Engagement[], now: number): Promise<void> {
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    await this.write(events, now, (day) => day >= oldest);
  }

  async read(at: number, since: number | null): Promise<TrendingRead> {
    const e = this.epochs.epochOf(at);
    const fc = this.epochs.factor(e, at);
    const fp = this.epochs.factor(e - 1, at);
    const score = (current: unknown, previous: unknown) =>
      (current === '' || current === null ? 0 : Number(current) * fc) +
      (previous === '' || previous === null ? 0 : Number(previous) * fp);
    if (since !== null) {
      const [now, tooOld, ...rest] = await this.scripts.shelfTrendingChanged(
        this.key('touched'),
        this.key(`e:${e}`),
        this.key(`e:${e - 1}`),
        since,
        TOUCHED_KEEP_MS,
      );
      if (Number(tooOld) === 0) {
        const scores = new Map<string, number>();
        for (let i = 0; i < rest.length; i += 3) scores.set(String(rest[i]), score(rest[i + 1], rest[i + 2]));
        return { scores, full: false, cursor: Number(now) };
      }
    }
    // Everything: both epochs' counters and Redis's time, at once.
    const replies = (await this.redis
      .multi()
      .time()
      .zrange(this.key(`e:${e}`), 0, '-1', 'WITHSCORES')
      .zrange(this.key(`e:${e - 1}`), 0, '-1', 'WITHSCORES')
      .exec())!;
    const [time, current, previous] = replies.map(([err, value]) => {
      if (err) throw err;
      return value as string[];
    }) as [string[], string[], string[]];
    const counters = new Map<string, [string, string]>();
    for (let i = 0; i < current.length; i += 2) counters.set(current[i]!, [current[i + 1]!, '']);
    for (let i = 0; i < previous.length; i += 2) {
      const entry = counters.get(previous[i]!);
      if (entry) entry[1] = previous[i + 1]!;
      else counters.set(previous[i]!, ['', previous[i + 1]!]);
    }
    const scores = new Map<string, number>();
    for (const [itemId, [c, p]] of counters) scores.set(itemId, score(c, p));
    return { scores, full: true, cursor: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) };
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  /** Counts `events` in script calls of `BATCH`; `capped(day)`: check the cap's set of that day. */
  private async write(
    events: readonly Engagement[],
    now: number,
    capped: (day: number) => boolean,
  ): Promise<number> {
    let counted = 0;
    for (let start = 0; start < events.length; start += BATCH) {
      const keys: string[] = [this.key('touched')];
      const args: (string | number)[] = [TOUCHED_KEEP_MS];
      for (const e of events.slice(start, start + BATCH)) {
        const ts = Math.min(e.timestamp, now);
        const day = capPeriodOf(ts);
        const epoch = this.epochs.epochOf(ts);
        keys.push(this.key(`seen:${day}`), this.key(`e:${epoch}`));
        args.push(
          capped(day) ? digest(capKey(e.visitor, e.itemId, e.type)) : '',
          ttl((day + 2) * CAP_PERIOD_MS - now),
          e.itemId,
          String(this.epochs.increment(ts, e.weight)),
          ttl((epoch + 2) * this.epochs.epochMs - now),
        );
      }
      counted += await this.scripts.shelfTrendingAdd(keys.length, ...keys, ...args);
    }
    return counted;
  }
}

/** Milliseconds for PEXPIRE: whole, at least a second, with the margin. */
const ttl = (ms: number): number => Math.max(1000, Math.ceil(ms + TTL_MARGIN_MS));

/** The cap's key as kept in Redis: short, and no user id in it. */
const digest = (key: string): string => createHash('sha256').update(key).digest('base64url').slice(0, 16);
