/**
 * What one shard of a sharded ALS fit is, as a job's data, and how any worker runs it: read
 * the half-step's inputs from the shared {@link AlsShardStore}, solve the rows with the pure
 * `solveAlsShard` (models/als-shard.ts), write the solved rows back atomically. The same
 * function runs in a worker thread (als-shard-thread.ts) and in a BullMQ worker
 * (src/jobs/als-shard-worker.ts); running it twice writes the same bytes.
 */
import type { AlsSide, SolvePlan } from '../models/als-kernel.ts';
import { AlsHalfStepSolver } from '../models/als-shard.ts';
import type { AlsShardKernelConfig } from '../models/als-shard.ts';
import { AlsShardStore } from './als-shard-store.ts';

/** One shard: rows [start, end) of `side` at `iteration` of fit `fitId` (JSON-safe). */
export interface AlsShardSpec {
  fitId: string;
  iteration: number;
  side: AlsSide;
  start: number;
  end: number;
  /** Rows of the other side (Y's rows). */
  otherRows: number;
  /** The half-step's largest shard: a worker sizes its memory once for all it takes. */
  capacity: { rows: number; nnz: number };
  plan: SolvePlan;
  kernel: AlsShardKernelConfig;
}

/** Throws `RangeError` when `data` is not a well-formed {@link AlsShardSpec}. */
export function checkShardSpec(data: unknown): AlsShardSpec {
  const s = data as Partial<AlsShardSpec> | null;
  const int = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
  const k = s?.kernel;
  const ok =
    typeof s?.fitId === 'string' &&
    int(s.iteration, 1) &&
    (s.side === 'users' || s.side === 'items') &&
    int(s.start, 0) &&
    int(s.end, s.start ?? 0) &&
    int(s.otherRows, 0) &&
    int(s.capacity?.rows, (s.end ?? 0) - (s.start ?? 0)) &&
    int(s.capacity?.nnz, 0) &&
    int(s.plan?.woodburyMaxNnz, 0) &&
    typeof s.plan?.exact === 'boolean' &&
    int(k?.factors, 1) &&
    typeof k?.alpha === 'number' &&
    int(k.cgSteps, 1) &&
    typeof k.simd === 'boolean' &&
    int(k.gatherRows, 0);
  if (!ok) throw new RangeError(`not an ALS shard: ${JSON.stringify(data)}`);
  AlsShardStore.checkFitId(s.fitId!);
  return s as AlsShardSpec;
}

/**
 * What a worker keeps between shards: the solver of the last half-step it worked on (its
 * memory holds that half-step's Y, B and Z), reused while the shards are of the same half-step.
 */
export class AlsShardCache {
  private key = '';
  private solver: AlsHalfStepSolver | null = null;

  async solverFor(store: AlsShardStore, spec: AlsShardSpec): Promise<AlsHalfStepSolver> {
    const key = `${spec.fitId}/${spec.iteration}/${spec.side}`;
    if (this.solver && this.key === key && this.solver.fits(spec.capacity.rows, spec.capacity.nnz))
      return this.solver;
    this.solver = null; // the last half-step's memory can go before this one's is made
    const { fitId, iteration, side, kernel, plan } = spec;
    const f = kernel.factors;
    const read = <T extends Float32Array | Float64Array>(name: 'other' | 'projected' | 'system', out: T) =>
      store.readHalfStep(fitId, iteration, side, name, out);
    const [other, system, projected] = await Promise.all([
      read('other', new Float32Array(spec.otherRows * f)),
      read('system', new Float64Array(f * f)),
      plan.woodburyMaxNnz > 0 ? read('projected', new Float32Array(spec.otherRows * f)) : null,
    ]);
    this.solver = new AlsHalfStepSolver({ side, kernel, plan, other, system, projected }, spec.capacity);
    this.key = key;
    return this.solver;
  }

  clear(): void {
    this.solver = null;
    this.key = '';
  }
}

/** Solves the shard from the store's files and writes its result there; its row count. */
export async function runAlsShard(
  store: AlsShardStore,
  spec: AlsShardSpec,
  cache = new AlsShardCache(),
): Promise<number> {
  const { fitId, iteration, side, start, end, kernel } = spec;
  const f = kernel.factors;
  const [solver, rows, factors] = await Promise.all([
    cache.solverFor(store, spec),
    store.readMatrixRows(fitId, side, start, end),
    store.readHalfStep(fitId, iteration, side, 'solved', new Float32Array((end - start) * f), start * f),
  ]);
  const solved = solver.solve({ ...rows, factors });
  await store.writeShardResult(fitId, iteration, side, start, end, solved);
  return end - start;
}
