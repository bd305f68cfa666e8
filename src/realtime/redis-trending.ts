/**
 * Trending counters in Redis, shared by every replica (see trending-counters.ts for what
 * counts). Keys, under the real-time prefix (`<SHELF_QUEUE_PREFIX>:rt:`, `shelf:rt:` by default):
 *
 * - `trend:e:<epoch>` sorted set, item → the epoch's counter; a read needs the current and the
 *   previous epoch, so each expires two epochs (two windows) after it starts;
 * - `trend:v:<epoch>` sorted set, item → the visits counted in the epoch (`minVisitors`), with
 *   the counter's lifetime;
 * - `trend:seen:<day>` set of the cap's keys (visitor, item, type) counted that UTC day, and of
 *   its visits (visitor, item), each as 16 characters of its SHA-256 (no user id kept in Redis;
 *   a collision has odds of 2^−96); kept until the end of the next day;
 * - `trend:touched` sorted set, item → Redis time (ms) of its last change, trimmed to the last
 *   ten minutes: how a replica reads only what changed since its last read;
 * - `trend:seeded` the mark of the one replica that counted the store's window.
 *
 * Memory bound: (items engaged in two windows) × ~4 counter entries, plus the distinct
 * (visitor, item, type) and (visitor, item) of two days (~70 bytes each), plus the items changed
 * in ten minutes.
 *
 * A batch of events is one script: the cap's check, the counter and the change mark happen
 * together, so two replicas counting the same visitor's events at once count them once.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { capKey, capPeriodOf, CAP_PERIOD_MS, VISIT } from '../store/engagement-cap.ts';
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
 * KEYS: touched, then per event its day's seen set, its epoch's counter and its epoch's visits.
 * ARGV: the touched set's keep (ms), then per event: the cap's key ('' when already capped: old
 * seeded days), the visit's key (for an old seeded day: '1' a visit, '' none), the seen set's
 * TTL, the item, the increment, the counters' TTL. Returns how many counted.
 */
const ADD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local counted = 0
for i = 1, (#KEYS - 1) / 3 do
  local k = 3 * i - 1
  local a = 1 + (i - 1) * 6
  local fresh = 1
  local visit = ARGV[a + 2] == '1' and 1 or 0
  if ARGV[a + 1] ~= '' then
    fresh = redis.call('SADD', KEYS[k], ARGV[a + 1])
    if fresh == 1 then
      visit = redis.call('SADD', KEYS[k], ARGV[a + 2])
      redis.call('PEXPIRE', KEYS[k], ARGV[a + 3])
    end
  end
  if fresh == 1 then
    redis.call('ZINCRBY', KEYS[k + 1], ARGV[a + 5], ARGV[a + 4])
    redis.call('PEXPIRE', KEYS[k + 1], ARGV[a + 6])
    if visit == 1 then
      redis.call('ZINCRBY', KEYS[k + 2], 1, ARGV[a + 4])
      redis.call('PEXPIRE', KEYS[k + 2], ARGV[a + 6])
    end
    redis.call('ZADD', KEYS[1], now, ARGV[a + 4])
    counted = counted + 1
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return counted
`;

/**
 * KEYS: touched, the current epoch's counter and visits, the previous one's. ARGV: since (Redis
 * ms), the touched set's keep. Returns [now, 1] when `since` is too old to answer from, else
 * [now, 0, then per item changed since: item, current counter, current visits, previous
 * counter, previous visits (each '' when none)].
 */
const CHANGED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now - tonumber(ARGV[1]) > tonumber(ARGV[2]) then return { tostring(now), 1 } end
local out = { tostring(now), 0 }
for _, item in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do
  out[#out + 1] = item
  for k = 2, 5 do out[#out + 1] = redis.call('ZSCORE', KEYS[k], item) or '' end
end
return out
`;

interface TrendingScripts {
  shelfTrendingAdd(numKeys: number, ...args: (string | number)[]): Promise<number>;
  shelfTrendingChanged(...args: (string | number)[]): Promise<(string | number)[]>;
}

/** The seed mark while the claimer counts (then its time); a replica beside it waits for that. */
const COUNTING = 'counting:';
const SEED_POLL_MS = 50;
/** A claim still counting after this long was given up by its replica (it died). */
const SEED_GIVEN_UP_MS = 600_000;

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
      shelfTrendingChanged: { lua: CHANGED, numberOfKeys: 5, readOnly: true },
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
    return (await this.redis.set(`${this.prefix}seeded`, `${COUNTING}${Date.now()}`, 'NX')) === 'OK';
  }

  async seedDone(): Promise<void> {
    await this.redis.set(`${this.prefix}seeded`, String(Date.now()));
  }

  async seedCounted(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const mark = await this.redis.get(`${this.prefix}seeded`);
      // Counted: a time (or a mark of a version that wrote one at the claim). Still counting, by
      // a seeder this old: it died; read what it counted.
      if (!mark?.startsWith(COUNTING)) return;
      if (Date.now() - Number(mark.slice(COUNTING.length)) > SEED_GIVEN_UP_MS || Date.now() > end) return;
      await new Promise((resolve) => setTimeout(resolve, SEED_POLL_MS));
    }
  }

  async seed(events: readonly Engagement[], now: number): Promise<void> {
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    await this.write(events, now, (day) => day >= oldest);
  }

  async read(at: number, since: number | null): Promise<TrendingRead> {
    const e = this.epochs.epochOf(at);
    const fc = this.epochs.factor(e, at);
    const fp = this.epochs.factor(e - 1, at);
    const n = (v: unknown) => (v === '' || v === null || v === undefined ? 0 : Number(v));
    // [current counter, current visits, previous counter, previous visits]
    const score = (c: readonly unknown[]) =>
      n(c[1]) + n(c[3]) < this.epochs.minVisitors ? 0 : n(c[0]) * fc + n(c[2]) * fp;
    const keys = [this.key(`e:${e}`), this.key(`v:${e}`), this.key(`e:${e - 1}`), this.key(`v:${e - 1}`)];
    if (since !== null) {
      const [now, tooOld, ...rest] = await this.scripts.shelfTrendingChanged(
        this.key('touched'),
        ...keys,
        since,
        TOUCHED_KEEP_MS,
      );
      if (Number(tooOld) === 0) {
        const scores = new Map<string, number>();
        for (let i = 0; i < rest.length; i += 5) scores.set(String(rest[i]), score(rest.slice(i + 1, i + 5)));
        return { scores, full: false, cursor: Number(now) };
      }
    }
    // Everything: both epochs' counters and visits, and Redis's time, at once.
    const m = this.redis.multi().time();
    for (const key of keys) m.zrange(key, 0, '-1', 'WITHSCORES');
    const [time, ...sets] = (await m.exec())!.map(([err, value]) => {
      if (err) throw err;
      return value as string[];
    }) as [string[], ...string[][]];
    const counters = new Map<string, string[]>();
    sets.forEach((set, k) => {
      for (let i = 0; i < set.length; i += 2) {
        let entry = counters.get(set[i]!);
        if (!entry) counters.set(set[i]!, (entry = ['', '', '', '']));
        entry[k] = set[i + 1]!;
      }
    });
    const scores = new Map<string, number>();
    for (const [itemId, c] of counters) {
      const v = score(c);
      if (v) scores.set(itemId, v);
    }
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
        keys.push(this.key(`seen:${day}`), this.key(`e:${epoch}`), this.key(`v:${epoch}`));
        const checked = capped(day);
        args.push(
          checked ? digest(capKey(e.visitor, e.itemId, e.type)) : '',
          checked ? digest(capKey(e.visitor, e.itemId, VISIT)) : e.visit === false ? '' : '1',
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
