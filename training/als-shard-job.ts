/**
 * What one shard of a sharded ALS fit is, as a job's data, and how any worker runs it: read
 * the half-step's inputs from the shared {@link AlsShardStore}, solve the rows with the pure
 * `AlsHalfStepSolver` (models/als-shard.ts), write the solved rows back atomically. The same
 * function runs in a worker thread (als-shard-thread.ts) and in a BullMQ worker
 * (src/jobs/als-shard-worker.ts); running it twice writes the same bytes.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AlsHalfStepSolver } from '../models/als-shard.ts';
import type { AlsShardStore } from './als-shard-store.ts';

const Int = (minimum: number) => Type.Integer({ minimum });

/** One shard: rows [start, end) of `side` at `iteration` of fit `fitId` (JSON, a job's data). */
export const AlsShardSpec = Type.Object(
  {
    fitId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
    iteration: Int(1),
    side: Type.Union([Type.Literal('users'), Type.Literal('items')]),
    start: Int(0),
    end: Int(0),
    /** Rows of the other side (Y's rows). */
    otherRows: Int(0),
    /** The half-step's largest shard: a worker sizes its memory once for all it takes. */
    capacity: Type.Object({ rows: Int(0), nnz: Int(0) }),
    plan: Type.Object({ woodburyMaxNnz: Int(0), exact: Type.Boolean() }),
    kernel: Type.Object({
      factors: Int(1),
      alpha: Type.Number(),
      cgSteps: Int(1),
      simd: Type.Boolean(),
      gatherRows: Int(0),
    }),
  },
  { additionalProperties: false },
);
export type AlsShardSpec = Static<typeof AlsShardSpec>;

/** Throws `RangeError` when `data` is not a well-formed {@link AlsShardSpec}. */
export function checkShardSpec(data: unknown): AlsShardSpec {
  const error = Value.Errors(AlsShardSpec, data).First();
  if (error) throw new RangeError(`not an ALS shard: data${error.path} ${error.message}`);
  const s = data as AlsShardSpec;
  if (s.end < s.start || s.capacity.rows < s.end - s.start)
    throw new RangeError(`not an ALS shard: rows [${s.start}, ${s.end}) beyond its capacity`);
  return s;
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
