/**
 * One shard of an ALS half-step: "solve rows [start, end) of side S given the other side's
 * factors". Pure on typed arrays: the shard gets its rows of the matrix, their current factors
 * (CG warm-starts from them), the other side's factors Y, B = YᵀY + λI and, for the Woodbury
 * rows, Z = Y B⁻¹ — all computed once per half-step by the fit — and runs the same
 * {@link AlsKernel.solveRange} as the fit's own threads. Each row's solve reads only those
 * inputs, so the factors do not depend on how the rows are split into shards or where the
 * shards run (in process, worker threads, BullMQ workers).
 */
import type { Csr } from './sparse.ts';
import { AlsKernel, scratchFloats } from './als-kernel.ts';
import type { AlsBuffers, AlsSide, SolvePlan } from './als-kernel.ts';
import { createWasmMemory } from './als-simd.ts';

/** What makes a row solve bit-for-bit the fit's own: the kernel's settings. */
export interface AlsShardKernelConfig {
  factors: number;
  alpha: number;
  cgSteps: number;
  /** The fit ran the WebAssembly SIMD kernels (else the JS ones). */
  simd: boolean;
  /** Rows of at most this many entries run the gathered SIMD CG. */
  gatherRows: number;
}

/** A half-step's solve phase as the fit hands it to an {@link AlsSideSolver}. */
export interface AlsSideProblem {
  side: AlsSide;
  /** 1-based. */
  iteration: number;
  /** Rows of the side being solved (the fit's internal order). */
  matrix: Csr;
  /** Their current factors (rows × f): read as the warm start, overwritten with the solution. */
  solved: Float32Array;
  /** The other side's factors Y (matrix.cols × f). */
  other: Float32Array;
  /** B = YᵀY + λI, f × f, full. */
  system: Float64Array;
  /** Z = Y B⁻¹ when `plan.woodburyMaxNnz > 0`, else null. */
  projected: Float32Array | null;
  plan: SolvePlan;
  kernel: AlsShardKernelConfig;
}

/** Solves a half-step's rows somewhere else than the fit's threads (see `AlsOptions.sideSolver`). */
export interface AlsSideSolver {
  /** Once per fit, before the first half-step: both orientations of the matrix. */
  begin?(fit: { users: Csr; items: Csr; kernel: AlsShardKernelConfig }): Promise<void>;
  solveSide(problem: AlsSideProblem): Promise<void>;
  /** Once per fit, after the last half-step (also when the fit failed). */
  end?(): Promise<void>;
}

/** The inputs of one shard. `indptr` starts at 0 (the shard's first row). */
export interface AlsShardInput {
  side: AlsSide;
  kernel: AlsShardKernelConfig;
  plan: SolvePlan;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  /** Current factors of the shard's rows, (indptr.length − 1) × f. */
  factors: Float32Array;
  other: Float32Array;
  system: Float64Array;
  projected: Float32Array | null;
}

/** Solves one shard; returns its rows' new factors (a fresh array). */
export function solveAlsShard(input: AlsShardInput): Float32Array {
  const { kernel: k, plan } = input;
  const f = k.factors;
  const rows = input.indptr.length - 1;
  if (rows < 0) throw new RangeError('indptr must have rows + 1 entries');
  const nnz = input.indptr[rows]!;
  if (input.indptr[0] !== 0) throw new RangeError('indptr[0] must be 0');
  if (input.indices.length < nnz || input.values.length < nnz)
    throw new RangeError('indices/values shorter than nnz');
  if (input.factors.length !== rows * f) throw new RangeError(`factors must have ${rows * f} floats`);
  if (input.other.length % f !== 0) throw new RangeError(`other factors are not a multiple of ${f}`);
  if (input.system.length !== f * f) throw new RangeError(`system must be ${f} × ${f}`);
  const otherRows = input.other.length / f;
  if (plan.woodburyMaxNnz > 0 && input.projected?.length !== otherRows * f)
    throw new RangeError('the Woodbury plan needs Z = Y B⁻¹ for every row of Y');
  const projectedLength = plan.woodburyMaxNnz > 0 ? otherRows * f : 0;
  const stride = scratchFloats(f, plan.woodburyMaxNnz);
  const gatherRows = k.simd ? k.gatherRows : 0;

  // [bytes per element, count] in layout order, each start 16-byte aligned (as in the fit).
  const sizes = {
    indptr: [4, rows + 1],
    indices: [4, nnz],
    values: [4, nnz],
    solved: [4, rows * f],
    other: [4, otherRows * f],
    projected: [4, projectedLength],
    system: [8, f * f],
    systemF32: [4, f * f],
    scratch: [4, stride],
    gather: [4, gatherRows * f],
    cursor: [4, 1],
  } as const;
  type Name = keyof typeof sizes;
  const offsets = {} as Record<Name, number>;
  let total = 0;
  for (const name of Object.keys(sizes) as Name[]) {
    offsets[name] = total;
    total += Math.ceil((sizes[name][0] * sizes[name][1]) / 16) * 16;
  }
  const memory = k.simd ? createWasmMemory(total, false) : null;
  if (k.simd && !memory)
    throw new RangeError(`the shard's ${total} bytes do not fit a WebAssembly memory (the fit's did)`);
  const buffer = memory ? memory.buffer : new ArrayBuffer(total);
  const i32 = (n: Name) => new Int32Array(buffer, offsets[n], sizes[n][1]);
  const f32 = (n: Name) => new Float32Array(buffer, offsets[n], sizes[n][1]);
  const f64 = (n: Name) => new Float64Array(buffer, offsets[n], sizes[n][1]);

  const shard: Csr = {
    rows,
    cols: otherRows,
    indptr: i32('indptr'),
    indices: i32('indices'),
    values: f32('values'),
  };
  shard.indptr.set(input.indptr);
  shard.indices.set(input.indices.subarray(0, nnz));
  shard.values.set(input.values.subarray(0, nnz));
  const solved = f32('solved');
  solved.set(input.factors);
  const other = f32('other');
  other.set(input.other);
  const projected = f32('projected');
  if (projectedLength > 0) projected.set(input.projected!);
  const system = f64('system');
  system.set(input.system);
  // The SIMD kernels read B as float32, like the fit's `systemF32` copy.
  const systemF32 = memory ? f32('systemF32') : new Float32Array(0);
  if (memory) systemF32.set(input.system);
  const empty: Csr = {
    rows: 0,
    cols: 0,
    indptr: new Int32Array(1),
    indices: new Int32Array(0),
    values: new Float32Array(0),
  };
  const users = input.side === 'users';
  const buffers: AlsBuffers = {
    memory,
    factors: f,
    alpha: k.alpha,
    // λ is already in B; the row solvers do not read it.
    regularization: 0,
    cgSteps: k.cgSteps,
    users: users ? shard : empty,
    items: users ? empty : shard,
    userFactors: users ? solved : other,
    itemFactors: users ? other : solved,
    gramBlocks: new Float64Array(0),
    system,
    systemInverse: new Float64Array(0),
    projected,
    systemF32,
    systemInverseF32: new Float32Array(0),
    scratch: f32('scratch'),
    scratchStride: stride,
    cursor: i32('cursor'),
    gather: f32('gather'),
    gatherRows,
  };
  new AlsKernel(buffers).solveRange(input.side, 0, rows, plan);
  return solved.slice();
}

/**
 * Splits `rows` rows (CSR `indptr`) into at most `shards` contiguous ranges of about equal
 * cost (entries plus a row's fixed f-sized work), so that the long rows, which the fit puts
 * first, do not all land in one shard. Returns the starts and the end: `[0, …, rows]`.
 */
export function shardBounds(indptr: Int32Array, shards: number, factors: number): number[] {
  const rows = indptr.length - 1;
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError('shards must be a positive integer');
  const cost = (r: number) => indptr[r]! + r * factors;
  const total = cost(rows);
  const bounds = [0];
  let r = 0;
  for (let s = 1; s < shards; s++) {
    const target = (total * s) / shards;
    while (r < rows && cost(r) < target) r++;
    if (r > bounds[bounds.length - 1]!) bounds.push(r);
  }
  if (rows > bounds[bounds.length - 1]!) bounds.push(rows);
  return bounds;
}

/** The rows [start, end) of `m` as a shard's input arrays (views, no copy of the entries). */
export function shardRows(
  m: Csr,
  start: number,
  end: number,
): { indptr: Int32Array; indices: Int32Array; values: Float32Array } {
  const base = m.indptr[start]!;
  const indptr = new Int32Array(end - start + 1);
  for (let r = start; r <= end; r++) indptr[r - start] = m.indptr[r]! - base;
  return {
    indptr,
    indices: m.indices.subarray(base, m.indptr[end]!),
    values: m.values.subarray(base, m.indptr[end]!),
  };
}

/** Runs the shards one after another in this thread: the reference for the other solvers. */
export class InProcessSideSolver implements AlsSideSolver {
  constructor(private readonly shards: number) {}

  solveSide(p: AlsSideProblem): Promise<void> {
    const f = p.kernel.factors;
    const bounds = shardBounds(p.matrix.indptr, this.shards, f);
    for (let s = 0; s + 1 < bounds.length; s++) {
      const start = bounds[s]!;
      const end = bounds[s + 1]!;
      const solved = solveAlsShard({
        side: p.side,
        kernel: p.kernel,
        plan: p.plan,
        ...shardRows(p.matrix, start, end),
        factors: p.solved.subarray(start * f, end * f),
        other: p.other,
        system: p.system,
        projected: p.projected,
      });
      p.solved.set(solved, start * f);
    }
    return Promise.resolve();
  }
}
