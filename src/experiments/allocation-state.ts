/**
 * The adaptive tiers' current split of traffic, shared by replicas: in this process in embedded
 * mode, one Redis string per tier with `REDIS_URL` (as src/realtime/ does). Whoever recomputes
 * it first after it falls due writes it; every replica serves what is stored.
 */
import type { Redis } from 'ioredis';

export interface StoredAllocation {
  /** Arm names, the default first. */
  arms: string[];
  /** Each arm's chance, summing to 1. */
  probabilities: number[];
  /** When it was computed, epoch ms. */
  at: number;
  /** How many times it was recomputed (seeds the next Monte Carlo run). */
  round: number;
}

export interface AllocationState {
  read(tier: string): Promise<StoredAllocation | null>;
  write(tier: string, a: StoredAllocation): Promise<void>;
}

export class MemoryAllocationState implements AllocationState {
  private readonly byTier = new Map<string, StoredAllocation>();

  read(tier: string): Promise<StoredAllocation | null> {
    return Promise.resolve(this.byTier.get(tier) ?? null);
  }

  write(tier: string, a: StoredAllocation): Promise<void> {
    this.byTier.set(tier, a);
    return Promise.resolve();
  }
}

export class RedisAllocationState implements AllocationState {
  constructor(
    private readonly redis: Redis,
    /** The cluster's prefix (`redisNames().allocation`). */
    private readonly prefix: string,
  ) {}

  private key(tier: string): string {
    return `${this.prefix}alloc:${tier}`;
  }

  async read(tier: string): Promise<StoredAllocation | null> {
    const v = await this.redis.get(this.key(tier));
    return v === null ? null : (JSON.parse(v) as StoredAllocation);
  }

  async write(tier: string, a: StoredAllocation): Promise<void> {
    await this.redis.set(this.key(tier), JSON.stringify(a));
  }
}
