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

/** The inputs of one shard: its half-step's and its own. */
export type AlsShardInput = AlsHalfStepInputs & AlsShardRows;

/** What every shard of one half-step shares: the other side's factors, B and Z. */
export interface AlsHalfStepInputs {
  side: AlsSide;
  kernel: AlsShardKernelConfig;
  plan: SolvePlan;
  other: Float32Array;
  system: Float64Array;
  projected: Float32Array | null;
}

/** One shard's own part: its rows (indptr from 0) and their current factors. */
export interface AlsShardRows {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  /** (indptr.length − 1) × f. */
  factors: Float32Array;
}

/**
 * The solver of one half-step's shards: copies Y, B and Z once into its memory (a WebAssembly
 * memory when the fit ran the SIMD kernels), then solves any number of shards of at most
 * `capacity` rows and entries, each into the same memory. A worker that takes several shards
 * of a half-step reads and copies the shared inputs once.
 */
export class AlsHalfStepSolver {
  readonly capacity: { rows: number; nnz: number };
  private readonly buffers: AlsBuffers;
  private readonly kernel: AlsKernel;
  private readonly region: { indptr: number; indices: number; values: number; solved: number };
  private readonly buffer: ArrayBufferLike;

  constructor(
    private readonly inputs: AlsHalfStepInputs,
    capacity: { rows: number; nnz: number },
  ) {
    const { kernel: k, plan } = inputs;
    const f = k.factors;
    if (
      !Number.isInteger(capacity.rows) ||
      capacity.rows < 0 ||
      !Number.isInteger(capacity.nnz) ||
      capacity.nnz < 0
    )
      throw new RangeError('capacity must be whole numbers of rows and entries');
    if (inputs.other.length % f !== 0) throw new RangeError(`other factors are not a multiple of ${f}`);
    if (inputs.system.length !== f * f) throw new RangeError(`system must be ${f} × ${f}`);
    const otherRows = inputs.other.length / f;
    if (plan.woodburyMaxNnz > 0 && inputs.projected?.length !== otherRows * f)
      throw new RangeError('the Woodbury plan needs Z = Y B⁻¹ for every row of Y');
    this.capacity = { rows: capacity.rows, nnz: capacity.nnz };
    const projectedLength = plan.woodburyMaxNnz > 0 ? otherRows * f : 0;
    const stride = scratchFloats(f, plan.woodburyMaxNnz);
    const gatherRows = k.simd ? k.gatherRows : 0;

    // [bytes per element, count] in layout order, each start 16-byte aligned (as in the fit).
    const sizes = {
      other: [4, otherRows * f],
      projected: [4, projectedLength],
      system: [8, f * f],
      systemF32: [4, f * f],
      scratch: [4, stride],
      gather: [4, gatherRows * f],
      cursor: [4, 1],
      indptr: [4, capacity.rows + 1],
      indices: [4, capacity.nnz],
      values: [4, capacity.nnz],
      solved: [4, capacity.rows * f],
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
    this.buffer = buffer;
    this.region = {
      indptr: offsets.indptr,
      indices: offsets.indices,
      values: offsets.values,
      solved: offsets.solved,
    };
    const i32 = (n: Name) => new Int32Array(buffer, offsets[n], sizes[n][1]);
    const f32 = (n: Name) => new Float32Array(buffer, offsets[n], sizes[n][1]);
    const f64 = (n: Name) => new Float64Array(buffer, offsets[n], sizes[n][1]);

    const other = f32('other');
    other.set(inputs.other);
    const projected = f32('projected');
    if (projectedLength > 0) projected.set(inputs.projected!);
    const system = f64('system');
    system.set(inputs.system);
    // The SIMD kernels read B as float32, like the fit's `systemF32` copy.
    const systemF32 = memory ? f32('systemF32') : new Float32Array(0);
    if (memory) systemF32.set(inputs.system);
    const users = inputs.side === 'users';
    const empty = emptyCsr();
    this.buffers = {
      memory,
      factors: f,
      alpha: k.alpha,
      // λ is already in B; the row solvers do not read it.
      regularization: 0,
      cgSteps: k.cgSteps,
      users: empty,
      items: empty,
      userFactors: users ? new Float32Array(0) : other,
      itemFactors: users ? other : new Float32Array(0),
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
    this.kernel = new AlsKernel(this.buffers);
  }

  /** Whether a shard of `rows` rows and `nnz` entries fits this solver's memory. */
  fits(rows: number, nnz: number): boolean {
    return rows <= this.capacity.rows && nnz <= this.capacity.nnz;
  }

  /** Solves one shard; returns its rows' new factors (a fresh array). */
  solve(shard: AlsShardRows): Float32Array {
    const f = this.inputs.kernel.factors;
    const rows = shard.indptr.length - 1;
    if (rows < 0) throw new RangeError('indptr must have rows + 1 entries');
    const nnz = shard.indptr[rows]!;
    if (shard.indptr[0] !== 0) throw new RangeError('indptr[0] must be 0');
    if (shard.indices.length < nnz || shard.values.length < nnz)
      throw new RangeError('indices/values shorter than nnz');
    if (shard.factors.length !== rows * f) throw new RangeError(`factors must have ${rows * f} floats`);
    if (!this.fits(rows, nnz))
      throw new RangeError(`a shard of ${rows} rows and ${nnz} entries exceeds the solver's capacity`);
    const b = this.buffer;
    const m: Csr = {
      rows,
      cols: this.inputs.other.length / f,
      indptr: new Int32Array(b, this.region.indptr, rows + 1),
      indices: new Int32Array(b, this.region.indices, nnz),
      values: new Float32Array(b, this.region.values, nnz),
    };
    m.indptr.set(shard.indptr);
    m.indices.set(shard.indices.subarray(0, nnz));
    m.values.set(shard.values.subarray(0, nnz));
    const solved = new Float32Array(b, this.region.solved, rows * f);
    solved.set(shard.factors);
    if (this.inputs.side === 'users') {
      this.buffers.users = m;
      this.buffers.userFactors = solved;
    } else {
      this.buffers.items = m;
      this.buffers.itemFactors = solved;
    }
    this.kernel.solveRange(this.inputs.side, 0, rows, this.inputs.plan);
    return solved.slice();
  }
}

/** Solves one shard on its own; returns its rows' new factors (a fresh array). */
export function solveAlsShard(input: AlsShardInput): Float32Array {
  const rows = Math.max(0, input.indptr.length - 1);
  const nnz = input.indptr[rows] ?? 0;
  return new AlsHalfStepSolver(input, { rows, nnz }).solve(input);
}

function emptyCsr(): Csr {
  return {
    rows: 0,
    cols: 0,
    indptr: new Int32Array(1),
    indices: new Int32Array(0),
    values: new Float32Array(0),
  };
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

/** The largest shard of `bounds` over `indptr`: what an {@link AlsHalfStepSolver} must hold. */
export function shardCapacity(indptr: Int32Array, bounds: readonly number[]): { rows: number; nnz: number } {
  let rows = 0;
  let nnz = 0;
  for (let s = 0; s + 1 < bounds.length; s++) {
    rows = Math.max(rows, bounds[s + 1]! - bounds[s]!);
    nnz = Math.max(nnz, indptr[bounds[s + 1]!]! - indptr[bounds[s]!]!);
  }
  return { rows, nnz };
}

/**
 * Runs the shards one after another in this thread, through one {@link AlsHalfStepSolver} per
 * half-step: the reference for the other solvers.
 */
export class InProcessSideSolver implements AlsSideSolver {
  constructor(private readonly shards: number) {}

  solveSide(p: AlsSideProblem): Promise<void> {
    const f = p.kernel.factors;
    const bounds = shardBounds(p.matrix.indptr, this.shards, f);
    const solver = new AlsHalfStepSolver(p, shardCapacity(p.matrix.indptr, bounds));
    for (let s = 0; s + 1 < bounds.length; s++) {
      const start = bounds[s]!;
      const end = bounds[s + 1]!;
      const solved = solver.solve({
        ...shardRows(p.matrix, start, end),
        factors: p.solved.subarray(start * f, end * f),
      });
      p.solved.set(solved, start * f);
    }
    return Promise.resolve();
  }
}
