/**
 * Rotation streaks shared by replicas: one hash per visitor (`<prefix>rot:<visitor>`), item →
 * `n:since:until`, updated by one Lua script per list shown (the rule of `afterShow`, so two
 * replicas showing the same visitor a list count both), expiring when idle.
 */
import type { Redis } from 'ioredis';
import type { RotationPolicy } from './rotation.ts';
import type { RotationState, Subject } from './types.ts';
import { subjectKey } from './types.ts';

/** KEYS[1] the hash; ARGV: at, shows, windowMs, forMs, ttlMs, item ids… (see rotation.ts `afterShow`). */
const SHOWN = `
local at, shows, win, dur = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 6, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  local n, since, untl = 0, 0, 0
  if v then
    local a, b, c = string.match(v, '^(%d+):(%d+):(%d+)$')
    n, since, untl = tonumber(a), tonumber(b), tonumber(c)
  end
  if not (v and at < untl) then
    if (not v) or at - since > win then n, since = 1, at else n = n + 1 end
    if n >= shows then n, since, untl = 0, at, at + dur end
    redis.call('HSET', KEYS[1], ARGV[i], n .. ':' .. since .. ':' .. untl)
  end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
`;

export class RedisRotation implements RotationState {
  constructor(
    private readonly redis: Redis,
    readonly policy: RotationPolicy,
    private readonly prefix: string,
  ) {}

  private key(s: Subject): string {
    return `${this.prefix}rot:${subjectKey(s)}`;
  }

  async shown(subject: Subject, itemIds: readonly string[], at: number): Promise<void> {
    const p = this.policy;
    if (p.shows <= 0 || !itemIds.length) return;
    const ttl = p.windowMs + p.forMs;
    await this.redis.eval(SHOWN, 1, this.key(subject), at, p.shows, p.windowMs, p.forMs, ttl, ...itemIds);
  }

  async engaged(subject: Subject, itemIds: readonly string[]): Promise<void> {
    if (itemIds.length) await this.redis.hdel(this.key(subject), ...itemIds);
  }

  async demoted(subject: Subject, at: number): Promise<ReadonlySet<string>> {
    if (this.policy.shows <= 0) return new Set();
    const all = await this.redis.hgetall(this.key(subject));
    const out = new Set<string>();
    for (const [id, v] of Object.entries(all)) if (Number(v.split(':')[2]) > at) out.add(id);
    return out;
  }

  async merge(sessionId: string, userId: string): Promise<void> {
    const from = await this.redis.hgetall(this.key({ sessionId }));
    const fields = Object.entries(from).flat();
    const multi = this.redis.multi();
    if (fields.length) multi.hset(this.key({ userId }), ...fields);
    await multi.del(this.key({ sessionId })).exec();
  }

  async forget(subject: Subject): Promise<void> {
    await this.redis.del(this.key(subject));
  }
}
