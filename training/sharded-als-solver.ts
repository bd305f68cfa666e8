/**
 * The coordinator of a sharded ALS fit: an `AlsSideSolver` (models/als-shard.ts) that, for each
 * half-step the fit hands it, writes the inputs every shard needs to the shared
 * {@link AlsShardStore}, splits the rows into shards of about equal cost, has a transport run
 * them (worker threads on one machine, BullMQ workers across machines), and gathers the solved
 * rows back into the fit's factors. The fit itself still computes B = YᵀY + λI (and Z) once per
 * half-step, so the factors are bit-identical to an unsharded fit with the same seed.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlsShardKernelConfig, AlsSideProblem, AlsSideSolver } from '../models/als-shard.ts';
import { shardBounds, shardCapacity } from '../models/als-shard.ts';
import type { Csr } from '../models/sparse.ts';
import type { AlsShardSpec } from './als-shard-job.ts';
import type { AlsShardStore } from './als-shard-store.ts';

/** Runs a half-step's shards somewhere and resolves when every result file is written. */
export interface AlsShardTransport {
  /** Workers that can run shards at once (shards per half-step default to a multiple). */
  readonly parallelism: number;
  run(specs: readonly AlsShardSpec[]): Promise<void>;
  close(): Promise<void>;
}

export interface ShardedAlsSolverOptions {
  store: AlsShardStore;
  transport: AlsShardTransport;
  /** Shards per half-step. @defaultValue 4 × the transport's parallelism */
  shards?: number;
  /** Names the fit's files (a fresh random id per fit by default). */
  fitId?: string;
  /** Keep the fit's files when it ends (debugging). @defaultValue false */
  keepFiles?: boolean;
  /**
   * As a fit begins, the files of fits untouched this long (their coordinator died) are
   * removed. @defaultValue 6 hours
   */
  abandonedAfterMs?: number;
  log?: Logger;
}

/** One fit at a time (a train job's holdout and final fits run one after the other). */
export class ShardedAlsSolver implements AlsSideSolver {
  private fitId = '';
  private active = false;

  constructor(private readonly o: ShardedAlsSolverOptions) {
    if (o.shards !== undefined && (!Number.isInteger(o.shards) || o.shards < 1))
      throw new RangeError('shards must be a positive integer');
  }

  async begin(fit: { users: Csr; items: Csr; kernel: AlsShardKernelConfig }): Promise<void> {
    if (this.active) throw new Error('ShardedAlsSolver runs one fit at a time');
    this.active = true;
    this.fitId = this.o.fitId ?? `als-${Date.now()}-${randomBytes(4).toString('hex')}`;
    const abandoned = await this.o.store.removeAbandoned(this.o.abandonedAfterMs ?? 6 * 3_600_000);
    if (abandoned.length) this.o.log?.warn({ fits: abandoned }, 'removed the files of abandoned ALS fits');
    await this.o.store.writeMatrix(this.fitId, 'users', fit.users);
    await this.o.store.writeMatrix(this.fitId, 'items', fit.items);
    this.o.log?.info(
      { fitId: this.fitId, users: fit.users.rows, items: fit.items.rows, shards: this.shardCount() },
      'sharded ALS fit started',
    );
  }

  async solveSide(p: AlsSideProblem): Promise<void> {
    if (!this.active) throw new Error('ShardedAlsSolver.solveSide outside a fit (begin first)');
    const { store } = this.o;
    const { side, iteration } = p;
    const f = p.kernel.factors;
    const t0 = performance.now();
    await store.writeHalfStep(this.fitId, iteration, side, {
      other: p.other,
      solved: p.solved,
      system: p.system,
      ...(p.projected ? { projected: p.projected } : {}),
    });
    const bounds = shardBounds(p.matrix.indptr, this.shardCount(), f);
    const capacity = shardCapacity(p.matrix.indptr, bounds);
    const specs: AlsShardSpec[] = [];
    for (let s = 0; s + 1 < bounds.length; s++)
      specs.push({
        fitId: this.fitId,
        iteration,
        side,
        start: bounds[s]!,
        end: bounds[s + 1]!,
        otherRows: p.matrix.cols,
        capacity,
        plan: p.plan,
        kernel: p.kernel,
      });
    const t1 = performance.now();
    await this.o.transport.run(specs);
    const t2 = performance.now();
    for (const s of specs)
      await store.readShardResult(
        this.fitId,
        iteration,
        side,
        s.start,
        s.end,
        p.solved.subarray(s.start * f, s.end * f),
      );
    await store.removeHalfStep(this.fitId, iteration, side);
    this.o.log?.debug(
      {
        fitId: this.fitId,
        iteration,
        side,
        shards: specs.length,
        writeSeconds: (t1 - t0) / 1000,
        solveSeconds: (t2 - t1) / 1000,
        gatherSeconds: (performance.now() - t2) / 1000,
      },
      'sharded ALS half-step',
    );
  }

  async end(): Promise<void> {
    this.active = false;
    if (this.fitId && !this.o.keepFiles) await this.o.store.removeFit(this.fitId);
  }

  private shardCount(): number {
    return this.o.shards ?? 4 * Math.max(1, this.o.transport.parallelism);
  }
}
