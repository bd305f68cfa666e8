/**
 * Rotation streaks shared by replicas: one hash per visitor (`<prefix>rot:<visitor>`), item →
 * `n:since:until`, updated by one Lua script per list shown (the rule of `afterShow`, so two
 * replicas showing the same visitor a list count both), expiring when idle; and the visitor's
 * demotions in a sorted set (`<prefix>rotd:<visitor>`, item by `until`), which is what a
 * request reads. Reading the hash instead cost each request in proportion to every item shown
 * to the visitor within the window: with ~300 fields, 405–453 µs of the API process's CPU a
 * request, where 8-second runs from no history now take 187–220 µs (264–293 before).
 */
import type { Redis } from 'ioredis';
import { withScripts } from './redis-scripts.ts';
import type { RotationPolicy } from './rotation.ts';
import type { RotationState, Subject } from './types.ts';
import { subjectKey } from './types.ts';

/**
 * KEYS[1] the hash, KEYS[2] the demotions; ARGV: at, shows, windowMs, forMs, ttlMs, item ids…
 * (see rotation.ts `afterShow`). Streaks past both their window and their demotion are dropped
 * once the hash outgrows twice its size after the last such pruning (field `~prune`), as the
 * memory rotation drops them at every show: the hash stays about as small, for O(1) a field.
 */
const SHOWN = `
local at, shows, win, dur = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function parse(v)
  local a, b, c = string.match(v, '^(%d+):(%d+):(%d+)$')
  return tonumber(a), tonumber(b), tonumber(c)
end
for i = 6, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  local n, since, untl = 0, 0, 0
  if v then n, since, untl = parse(v) end
  if not (v and at < untl) then
    if (not v) or at - since > win then n, since = 1, at else n = n + 1 end
    if n >= shows then
      n, since, untl = 0, at, at + dur
      redis.call('ZADD', KEYS[2], untl, ARGV[i])
    end
    redis.call('HSET', KEYS[1], ARGV[i], n .. ':' .. since .. ':' .. untl)
  end
end
local limit = tonumber(redis.call('HGET', KEYS[1], '~prune') or '') or 64
if redis.call('HLEN', KEYS[1]) > limit then
  local all = redis.call('HGETALL', KEYS[1])
  for j = 1, #all, 2 do
    if all[j] ~= '~prune' then
      local _, since, untl = parse(all[j + 1])
      if untl <= at and at - since > win then redis.call('HDEL', KEYS[1], all[j]) end
    end
  end
  redis.call('HSET', KEYS[1], '~prune', math.max(64, 2 * redis.call('HLEN', KEYS[1])))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', at)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]))
`;

/**
 * A login: KEYS[1], KEYS[2] the user's hash and demotions, KEYS[3], KEYS[4] the session's; ARGV[1]
 * the ttl. Per item, the streak demoted until later wins, a tie keeps the user's (as
 * memory-rotation.ts merges): copied whole, a session's streak replaced a user's demotion in the
 * hash, and shows during it counted again and renewed it.
 */
const MERGE = `
local from = redis.call('HGETALL', KEYS[3])
local function untl(v) return tonumber(string.match(v, ':(%d+)$')) end
for j = 1, #from, 2 do
  if from[j] ~= '~prune' then
    local mine = redis.call('HGET', KEYS[1], from[j])
    if not mine or untl(mine) < untl(from[j + 1]) then redis.call('HSET', KEYS[1], from[j], from[j + 1]) end
  end
end
redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[4], 'AGGREGATE', 'MAX')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[1]))
redis.call('DEL', KEYS[3], KEYS[4])
`;

interface RotationScripts {
  /** SHOWN by its SHA (EVALSHA; ioredis loads it on first use): not its text on every request. */
  shelfRotationShown(...args: (string | number)[]): Promise<unknown>;
  shelfRotationMerge(...args: (string | number)[]): Promise<unknown>;
}

export class RedisRotation implements RotationState {
  private readonly scripts: RotationScripts;

  constructor(
    private readonly redis: Redis,
    readonly policy: RotationPolicy,
    private readonly prefix: string,
  ) {
    this.scripts = withScripts<RotationScripts>(redis, {
      shelfRotationShown: { lua: SHOWN, numberOfKeys: 2 },
      shelfRotationMerge: { lua: MERGE, numberOfKeys: 4 },
    });
  }

  private key(s: Subject): string {
    return `${this.prefix}rot:${subjectKey(s)}`;
  }

  private demotionsKey(s: Subject): string {
    return `${this.prefix}rotd:${subjectKey(s)}`;
  }

  private get ttlMs(): number {
    return this.policy.windowMs + this.policy.forMs;
  }

  async shown(subject: Subject, itemIds: readonly string[], at: number): Promise<void> {
    const p = this.policy;
    if (p.shows <= 0 || !itemIds.length) return;
    await this.scripts.shelfRotationShown(
      this.key(subject),
      this.demotionsKey(subject),
      at,
      p.shows,
      p.windowMs,
      p.forMs,
      this.ttlMs,
      ...itemIds,
    );
  }

  async engaged(subject: Subject, itemIds: readonly string[]): Promise<void> {
    if (!itemIds.length) return;
    await this.redis
      .multi()
      .hdel(this.key(subject), ...itemIds)
      .zrem(this.demotionsKey(subject), ...itemIds)
      .exec();
  }

  async demoted(subject: Subject, at: number): Promise<ReadonlySet<string>> {
    if (this.policy.shows <= 0) return new Set();
    return new Set(await this.redis.zrangebyscore(this.demotionsKey(subject), `(${at}`, '+inf'));
  }

  async merge(sessionId: string, userId: string): Promise<void> {
    const [from, to] = [{ sessionId }, { userId }];
    await this.scripts.shelfRotationMerge(
      this.key(to),
      this.demotionsKey(to),
      this.key(from),
      this.demotionsKey(from),
      this.ttlMs,
    );
  }

  async forget(subject: Subject): Promise<void> {
    await this.redis.del(this.key(subject), this.demotionsKey(subject));
  }
}
