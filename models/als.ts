/**
 * Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren, Volinsky
 * 2008), solved per row by conjugate gradient (Takács et al. 2011, as in the `implicit`
 * library) or exactly, in parallel over worker threads that share the factors.
 * See models/als-kernel.ts for the maths of each row solve.
 *
 * How a fit runs (what makes it fast):
 * - one memory holds the matrix (both orientations), the factors and per-thread scratch: a
 *   `WebAssembly.Memory`, shared with the workers, so the hot loops run as generated SIMD
 *   code (models/als-simd.ts); plain typed arrays and JS kernels when f is not a multiple of 4;
 * - users and items are renumbered longest row first, so the factors most rows touch sit
 *   together in cache (the caller never sees the internal order);
 * - each half-step: Gram matrix B = YᵀY + λI in fixed blocks (summed in block order, so the
 *   result does not depend on the worker count), then every row solved independently — CG
 *   on a gathered copy of its rows of Y, or Woodbury for short rows — with threads claiming
 *   chunks of rows from a shared cursor;
 * - workers (worker_threads) start once per fit and serve every phase of every iteration;
 * - with `sideSolver` (models/als-shard.ts), each half-step's solve phase runs elsewhere in
 *   shards (over other threads or machines), fed the same B and Z: the same factors.
 */
import type { Recommender } from './recommender.ts';
import type { Csr } from './sparse.ts';
import { createRng } from './random.ts';
import { AlsKernel, GATHER_MAX_BYTES, GRAM_BLOCK_ROWS, scratchFloats } from './als-kernel.ts';
import type { AlsBuffers, AlsSide, SolvePlan } from './als-kernel.ts';
import { InProcessExecutor, WorkerExecutor } from './als-tasks.ts';
import type { AlsExecutor, AlsTask } from './als-tasks.ts';
import { spdInverseInto } from './linalg.ts';
import { createWasmMemory, SIMD_MAX_FACTORS } from './als-simd.ts';
import { factorTopK } from './factor-top-k.ts';
import type { FactorTopK } from './factor-top-k.ts';
import type { AlsShardKernelConfig, AlsSideProblem, AlsSideSolver } from './als-shard.ts';

export interface AlsIterationInfo {
  /** 1-based. */
  iteration: number;
  /** Wall time of this iteration (both half-steps), excluding the loss. */
  seconds: number;
  /** Mean weighted squared error per user × item cell plus the L2 terms; with `computeLoss`. */
  loss?: number;
}

export interface AlsOptions {
  /** Latent dimensions. @defaultValue 64 */
  factors?: number;
  /** λ of the L2 penalty on every factor. @defaultValue 0.1 */
  regularization?: number;
  /** Confidence c = 1 + alpha·|value|. @defaultValue 10 */
  alpha?: number;
  /** Full sweeps (users, then items). @defaultValue 15 */
  iterations?: number;
  /** Conjugate-gradient steps per row and sweep, warm-started. @defaultValue 3 */
  cgSteps?: number;
  /** `cg` (approximate, fast) or `cholesky` (exact per row). @defaultValue 'cg' */
  solver?: 'cg' | 'cholesky';
  /** Seed of the factor initialisation. @defaultValue 1 */
  seed?: number;
  /** Worker threads; 1 runs in-process. @defaultValue 2 */
  workers?: number;
  /**
   * Below this many interactions the fit runs in-process whatever `workers` says: starting
   * the workers (each loads the TypeScript loader, ≈ 0.5 s) costs more than they save on such
   * a fit (online-retail, 266k interactions, 15 iterations: 0.9 s in-process, 1.4 s with 2
   * workers). The factors are identical either way. @defaultValue 1000000
   */
  parallelMinInteractions?: number;
  /**
   * Every phase on worker threads (`workers` of them, one is enough), whatever the fit's size:
   * the calling thread stays free, e.g. for a second fit side by side. @defaultValue false
   */
  offThread?: boolean;
  /**
   * Solve short rows (few entries compared with `factors`) exactly through the Woodbury
   * identity when that costs less than CG; rows stay independent, so it changes no contract.
   * @defaultValue true
   */
  woodbury?: boolean;
  /**
   * Run the hot loops as WebAssembly SIMD (float32) when `factors` is a multiple of 4; false
   * forces the plain JS kernels (float64 accumulators). @defaultValue true
   */
  simd?: boolean;
  /** Compute the training loss after each iteration (one extra pass). @defaultValue false */
  computeLoss?: boolean;
  onIteration?: (info: AlsIterationInfo) => void;
  /**
   * Solves each half-step's rows elsewhere (models/als-shard.ts: in shards, over worker threads
   * or BullMQ workers) instead of on this fit's threads. The fit still computes the Gram matrix
   * (and Z = Y B⁻¹) once per half-step, so the factors are the same either way.
   */
  sideSolver?: AlsSideSolver;
}

type ResolvedOptions = Required<Omit<AlsOptions, 'onIteration' | 'sideSolver'>> &
  Pick<AlsOptions, 'onIteration' | 'sideSolver'>;

/** Relative cost (≈ multiply-adds) of one row solve with k entries, for planning only. */
const cgCost = (k: number, f: number, steps: number) => (steps + 1) * (f * f + 2 * k * f) + 8 * f;
// The f × f Cholesky runs as scalar JS: weighs 4× like other scalar work.
const choleskyCost = (k: number, f: number) => 4 * ((k * f * (f + 1)) / 2 + (f * f * f) / 6 + 2 * f * f);
// Woodbury's k × k scalar work weighs 4×, and each entry reads two scattered rows (of Y and
// Z = Y B⁻¹) that CG reads once, gathered: ≈ 8f multiply-adds' worth each. Measured on the
// train-speed data, this puts the cut-off near k = 13 at f = 64, where it pays at any size.
const woodburyCost = (k: number, f: number) =>
  ((k * (k + 1)) / 2) * f + 2 * k * f + 4 * ((k * k * k) / 6 + 2 * k * k) + 16 * k * f;

interface SidePlan {
  plan: SolvePlan;
}

export class AlsModel implements Recommender {
  readonly name = 'als';
  readonly options: Readonly<ResolvedOptions>;
  factors: number;
  userFactors: Float32Array = new Float32Array(0);
  itemFactors: Float32Array = new Float32Array(0);
  userCount = 0;
  itemCount = 0;
  /** Kernel over the final item factors, for fold-in (B = YᵀY + λI). */
  private foldKernel: AlsKernel | null = null;
  private readonly foldScratch: Float64Array;
  private readonly userScratch: Float32Array;

  constructor(options: AlsOptions = {}) {
    const o: ResolvedOptions = {
      factors: options.factors ?? 64,
      regularization: options.regularization ?? 0.1,
      alpha: options.alpha ?? 10,
      iterations: options.iterations ?? 15,
      cgSteps: options.cgSteps ?? 3,
      solver: options.solver ?? 'cg',
      seed: options.seed ?? 1,
      workers: options.workers ?? 2,
      parallelMinInteractions: options.parallelMinInteractions ?? 1_000_000,
      offThread: options.offThread ?? false,
      woodbury: options.woodbury ?? true,
      simd: options.simd ?? true,
      computeLoss: options.computeLoss ?? false,
      onIteration: options.onIteration,
      sideSolver: options.sideSolver,
    };
    if (!Number.isInteger(o.factors) || o.factors < 1)
      throw new RangeError('factors must be a positive integer');
    if (!(o.regularization > 0)) throw new RangeError('regularization must be > 0');
    if (!(o.alpha >= 0)) throw new RangeError('alpha must be >= 0');
    if (!Number.isInteger(o.iterations) || o.iterations < 0) throw new RangeError('iterations must be >= 0');
    if (!Number.isInteger(o.cgSteps) || o.cgSteps < 1) throw new RangeError('cgSteps must be >= 1');
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new RangeError('workers must be >= 1');
    if (o.solver !== 'cg' && o.solver !== 'cholesky')
      throw new RangeError(`unknown solver ${String(o.solver)}`);
    this.options = o;
    this.factors = o.factors;
    this.foldScratch = new Float64Array(o.factors);
    this.userScratch = new Float32Array(o.factors);
  }

  /**
   * A model over factors trained elsewhere (e.g. read back from an artefact), ready for
   * `foldIn` and `scoreInto`. `options` must carry the `alpha` and `regularization` used to fit.
   */
  static fromFactors(
    userFactors: Float32Array,
    itemFactors: Float32Array,
    factors: number,
    options: AlsOptions = {},
  ): AlsModel {
    if (userFactors.length % factors !== 0 || itemFactors.length % factors !== 0)
      throw new RangeError(`factor arrays are not multiples of ${factors}`);
    const model = new AlsModel({ ...options, factors });
    model.userFactors = userFactors;
    model.itemFactors = itemFactors;
    model.userCount = userFactors.length / factors;
    model.itemCount = itemFactors.length / factors;
    model.prepareFoldIn();
    return model;
  }

  async fit(train: Csr): Promise<void> {
    checkCsr(train);
    const o = this.options;
    const nnz = train.indptr[train.rows]!;
    const parallel = o.offThread || (o.workers > 1 && nnz >= o.parallelMinInteractions);
    const workers = parallel ? o.workers : 1;
    const itemIndptr = columnPointers(train);
    const plans = {
      users: this.planSide(train.indptr, train.cols),
      items: this.planSide(itemIndptr, train.rows),
    };
    const { buffers, userRank, itemRank } = allocateBuffers(train, itemIndptr, o, plans, workers, parallel);
    const { userFactors, itemFactors } = buffers;
    // Initial factors drawn in the caller's row order, stored in the internal order.
    const rng = createRng(o.seed);
    const f = o.factors;
    for (let u = 0; u < train.rows; u++)
      for (let a = 0; a < f; a++) userFactors[userRank[u]! * f + a] = rng.next() * 0.01;
    for (let i = 0; i < train.cols; i++)
      for (let a = 0; a < f; a++) itemFactors[itemRank[i]! * f + a] = rng.next() * 0.01;

    const executor: AlsExecutor = parallel
      ? await WorkerExecutor.start(workers, buffers)
      : new InProcessExecutor(new AlsKernel(buffers));
    const kernel: AlsShardKernelConfig = {
      factors: f,
      alpha: o.alpha,
      cgSteps: o.cgSteps,
      simd: buffers.memory !== null,
      gatherRows: buffers.gatherRows,
    };
    try {
      await o.sideSolver?.begin?.({ users: buffers.users, items: buffers.items, kernel });
      for (let it = 1; it <= o.iterations; it++) {
        const t0 = performance.now();
        await this.halfStep(executor, buffers, 'users', plans.users, it, kernel);
        await this.halfStep(executor, buffers, 'items', plans.items, it, kernel);
        const seconds = (performance.now() - t0) / 1000;
        let loss: number | undefined;
        if (o.computeLoss) loss = await this.loss(executor, buffers);
        o.onIteration?.({ iteration: it, seconds, ...(loss === undefined ? {} : { loss }) });
      }
    } finally {
      await executor.close();
      await o.sideSolver?.end?.();
    }
    // Back to the caller's order, in fresh arrays so that the training buffers can be collected.
    this.userFactors = unpermuteRows(userFactors, userRank, f);
    this.itemFactors = unpermuteRows(itemFactors, itemRank, f);
    this.userCount = train.rows;
    this.itemCount = train.cols;
    this.prepareFoldIn();
  }

  /**
   * A user vector from a few events, as if the user had been a row of the training matrix
   * while the item factors stay fixed: solves (YᵀY + Yᵤᵀ(Cᵤ − I)Yᵤ + λI) x = Yᵤᵀ Cᵤ pᵤ with an
   * f × f Cholesky. `weights` are interaction values on the training scale; give each item
   * once (sum repeated events first).
   */
  foldIn(items: Int32Array, weights: Float32Array, out: Float32Array): void {
    const kernel = this.foldKernel;
    if (!kernel) throw new Error('model is not fitted');
    const f = this.factors;
    if (items.length !== weights.length) throw new RangeError('items and weights differ in length');
    if (out.length !== f) throw new RangeError(`out has length ${out.length}, expected ${f}`);
    for (let j = 0; j < items.length; j++) {
      const i = items[j]!;
      if (!(i >= 0 && i < this.itemCount)) throw new RangeError(`item index ${i} out of range`);
    }
    if (items.length === 0) {
      out.fill(0);
      return;
    }
    kernel.choleskyRow(this.itemFactors, items, weights, 0, items.length, this.foldScratch);
    for (let a = 0; a < f; a++) out[a] = this.foldScratch[a]!;
  }

  scoreInto(userIndex: number, items: Int32Array, weights: Float32Array, out: Float32Array): void {
    if (!this.foldKernel) throw new Error('model is not fitted');
    if (out.length !== this.itemCount)
      throw new RangeError(`out has length ${out.length}, expected ${this.itemCount}`);
    const f = this.factors;
    let x: Float32Array;
    if (userIndex === -1) {
      this.foldIn(items, weights, this.userScratch);
      x = this.userScratch;
    } else if (Number.isInteger(userIndex) && userIndex >= 0 && userIndex < this.userCount) {
      x = this.userFactors.subarray(userIndex * f, (userIndex + 1) * f);
    } else {
      throw new RangeError(`user index ${userIndex} out of range`);
    }
    const y = this.itemFactors;
    for (let i = 0, yo = 0; i < this.itemCount; i++, yo += f) {
      let s = 0;
      for (let a = 0; a < f; a++) s += x[a]! * y[yo + a]!;
      out[i] = s;
    }
  }

  recommendBatch(users: Int32Array, k: number, exclude: Pick<Csr, 'indptr' | 'indices'>): FactorTopK {
    if (!this.foldKernel) throw new Error('model is not fitted');
    return factorTopK({
      userFactors: this.userFactors,
      itemFactors: this.itemFactors,
      factors: this.factors,
      users,
      k,
      exclude,
    });
  }

  private planSide(indptr: Int32Array, otherRows: number): SidePlan {
    const o = this.options;
    const f = o.factors;
    const exact = o.solver === 'cholesky';
    const alt = (k: number) => (exact ? choleskyCost(k, f) : cgCost(k, f, o.cgSteps));
    let kMax = 0;
    if (o.woodbury) while (woodburyCost(kMax + 1, f) < alt(kMax + 1)) kMax++;
    let saving = 0;
    for (let r = 0; r + 1 < indptr.length; r++) {
      const k = indptr[r + 1]! - indptr[r]!;
      if (k > 0 && k <= kMax) saving += alt(k) - woodburyCost(k, f);
    }
    const woodburyMaxNnz = kMax > 0 && saving > otherRows * f * f ? kMax : 0;
    return { plan: { woodburyMaxNnz, exact } };
  }

  private async computeSystem(executor: AlsExecutor, buffers: AlsBuffers, side: AlsSide): Promise<void> {
    const blocks = Math.ceil((side === 'users' ? buffers.items.rows : buffers.users.rows) / GRAM_BLOCK_ROWS);
    await executor.run(
      rangeTasks(evenBounds(blocks, executor.parallelism), (start, end) => ({
        op: 'gram',
        side,
        start,
        end,
      })),
    );
    sumGramBlocks(buffers, blocks);
  }

  private async halfStep(
    executor: AlsExecutor,
    buffers: AlsBuffers,
    side: AlsSide,
    sp: SidePlan,
    iteration: number,
    kernel: AlsShardKernelConfig,
  ) {
    const f = this.factors;
    await this.computeSystem(executor, buffers, side);
    if (sp.plan.woodburyMaxNnz > 0) {
      spdInverseInto(new Float64Array(buffers.system), f, new Float64Array(f), buffers.systemInverse);
      buffers.systemInverseF32.set(buffers.systemInverse);
      const otherRows = side === 'users' ? buffers.items.rows : buffers.users.rows;
      await executor.run(
        rangeTasks(evenBounds(otherRows, executor.parallelism), (start, end) => ({
          op: 'project',
          side,
          start,
          end,
        })),
      );
    }
    const rows = side === 'users' ? buffers.users.rows : buffers.items.rows;
    const solver = this.options.sideSolver;
    if (solver) {
      const otherRows = side === 'users' ? buffers.items.rows : buffers.users.rows;
      const problem: AlsSideProblem = {
        side,
        iteration,
        matrix: side === 'users' ? buffers.users : buffers.items,
        solved: side === 'users' ? buffers.userFactors : buffers.itemFactors,
        other: side === 'users' ? buffers.itemFactors : buffers.userFactors,
        system: buffers.system,
        projected: sp.plan.woodburyMaxNnz > 0 ? buffers.projected.subarray(0, otherRows * f) : null,
        plan: sp.plan,
        kernel,
      };
      await solver.solveSide(problem);
      return;
    }
    const chunk = Math.max(16, Math.min(4096, Math.ceil(rows / (64 * executor.parallelism))));
    buffers.cursor[0] = 0;
    await executor.run(
      Array.from({ length: executor.parallelism }, () => ({
        op: 'solve',
        side,
        end: rows,
        chunk,
        plan: sp.plan,
      })),
    );
  }

  private async loss(executor: AlsExecutor, buffers: AlsBuffers): Promise<number> {
    await this.computeSystem(executor, buffers, 'users');
    const parts = await executor.run(
      rangeTasks(evenBounds(buffers.users.rows, executor.parallelism), (start, end) => ({
        op: 'loss',
        start,
        end,
      })),
    );
    let total = parts.reduce((a, b) => a + b, 0);
    const y = buffers.itemFactors;
    let yy = 0;
    for (let i = 0; i < y.length; i++) yy += y[i]! * y[i]!;
    total += this.options.regularization * yy;
    return total / (buffers.users.rows * buffers.items.rows);
  }

  private prepareFoldIn(): void {
    const o = this.options;
    const f = o.factors;
    const empty = new Int32Array(1);
    const buffers: AlsBuffers = {
      factors: f,
      alpha: o.alpha,
      regularization: o.regularization,
      cgSteps: o.cgSteps,
      users: {
        rows: 0,
        cols: this.itemCount,
        indptr: empty,
        indices: new Int32Array(0),
        values: new Float32Array(0),
      },
      items: {
        rows: this.itemCount,
        cols: 0,
        indptr: new Int32Array(this.itemCount + 1),
        indices: new Int32Array(0),
        values: new Float32Array(0),
      },
      userFactors: new Float32Array(0),
      itemFactors: this.itemFactors,
      gramBlocks: new Float64Array(Math.max(1, Math.ceil(this.itemCount / GRAM_BLOCK_ROWS)) * f * f),
      system: new Float64Array(f * f),
      systemInverse: new Float64Array(0),
      projected: new Float32Array(0),
      memory: null,
      systemF32: new Float32Array(0),
      systemInverseF32: new Float32Array(0),
      scratch: new Float32Array(0),
      scratchStride: 0,
      cursor: new Int32Array(1),
      gather: new Float32Array(0),
      gatherRows: 0,
    };
    const kernel = new AlsKernel(buffers);
    // B = YᵀY + λI over the final item factors, summed block by block like the fit does.
    const blocks = Math.ceil(this.itemCount / GRAM_BLOCK_ROWS);
    kernel.gramRange('users', 0, blocks);
    sumGramBlocks(buffers, blocks);
    this.foldKernel = kernel;
  }
}

/** system = Σ Gram blocks in block order (upper → full) + λI. */
function sumGramBlocks(buffers: AlsBuffers, blocks: number): void {
  const f = buffers.factors;
  const sys = buffers.system;
  sys.fill(0);
  for (let blk = 0; blk < blocks; blk++) {
    const o = blk * f * f;
    for (let a = 0; a < f; a++)
      for (let b = a; b < f; b++) sys[a * f + b]! += buffers.gramBlocks[o + a * f + b]!;
  }
  for (let a = 0; a < f; a++) {
    sys[a * f + a]! += buffers.regularization;
    for (let b = a + 1; b < f; b++) sys[b * f + a] = sys[a * f + b]!;
  }
  if (buffers.systemF32.length === sys.length) buffers.systemF32.set(sys);
}

function checkCsr(m: Csr): void {
  if (m.indptr.length !== m.rows + 1) throw new RangeError('indptr length must be rows + 1');
  if (m.indptr[0] !== 0) throw new RangeError('indptr[0] must be 0');
  for (let r = 0; r < m.rows; r++) {
    if (m.indptr[r + 1]! < m.indptr[r]!) throw new RangeError(`indptr decreases at row ${r}`);
  }
  const nnz = m.indptr[m.rows]!;
  if (m.indices.length < nnz || m.values.length < nnz)
    throw new RangeError('indices/values shorter than nnz');
  for (let j = 0; j < nnz; j++) {
    const c = m.indices[j]!;
    if (!(c >= 0 && c < m.cols)) throw new RangeError(`column index ${c} out of range at entry ${j}`);
    if (!Number.isFinite(m.values[j]!)) throw new RangeError(`value at entry ${j} is not finite`);
  }
}

/** out[r] = data[rank[r]] row by row. */
function unpermuteRows(data: Float32Array, rank: Int32Array, f: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rank.length; r++) out.set(data.subarray(rank[r]! * f, (rank[r]! + 1) * f), r * f);
  return out;
}

function maxRowLength(indptr: Int32Array): number {
  let max = 0;
  for (let r = 0; r + 1 < indptr.length; r++) max = Math.max(max, indptr[r + 1]! - indptr[r]!);
  return max;
}

/** indptr of the transpose: entries per column, prefix-summed. */
function columnPointers(m: Csr): Int32Array {
  const nnz = m.indptr[m.rows]!;
  const ptr = new Int32Array(m.cols + 1);
  for (let j = 0; j < nnz; j++) ptr[m.indices[j]! + 1]!++;
  for (let c = 0; c < m.cols; c++) ptr[c + 1]! += ptr[c]!;
  return ptr;
}

/**
 * Lays out every training array in one buffer: a WebAssembly memory when the SIMD kernels can
 * run (shared across workers when parallel), else a (Shared)ArrayBuffer for the JS kernels.
 * Copies the matrix in and writes its transpose straight into place.
 */
function allocateBuffers(
  train: Csr,
  itemIndptr: Int32Array,
  o: ResolvedOptions,
  plans: { users: SidePlan; items: SidePlan },
  workers: number,
  parallel: boolean,
): { buffers: AlsBuffers; userRank: Int32Array; itemRank: Int32Array } {
  const f = o.factors;
  const { rows, cols } = train;
  const nnz = train.indptr[rows]!;
  const kMax = Math.max(plans.users.plan.woodburyMaxNnz, plans.items.plan.woodburyMaxNnz);
  const projectedRows = Math.max(
    plans.users.plan.woodburyMaxNnz > 0 ? cols : 0,
    plans.items.plan.woodburyMaxNnz > 0 ? rows : 0,
  );
  const blocks = Math.max(1, Math.ceil(Math.max(rows, cols) / GRAM_BLOCK_ROWS));
  const stride = scratchFloats(f, kMax);
  const simd = o.simd && f % 4 === 0 && f <= SIMD_MAX_FACTORS;
  const gatherRows = Math.min(
    Math.max(maxRowLength(train.indptr), maxRowLength(itemIndptr)),
    Math.floor(GATHER_MAX_BYTES / (4 * f)),
  );
  // [bytes per element, count] of every array, in layout order.
  const layout = (gather: number) => {
    const sizes = {
      userIndptr: [4, rows + 1],
      userIndices: [4, nnz],
      userValues: [4, nnz],
      itemIndptr: [4, cols + 1],
      itemIndices: [4, nnz],
      itemValues: [4, nnz],
      userFactors: [4, rows * f],
      itemFactors: [4, cols * f],
      projected: [4, projectedRows * f],
      gramBlocks: [8, blocks * f * f],
      system: [8, f * f],
      systemInverse: [8, f * f],
      systemF32: [4, f * f],
      systemInverseF32: [4, f * f],
      scratch: [4, workers * stride],
      cursor: [4, 1],
      gather: [4, workers * gather * f],
    } as const;
    const offsets = {} as Record<keyof typeof sizes, number>;
    let total = 0;
    for (const name of Object.keys(sizes) as (keyof typeof sizes)[]) {
      offsets[name] = total;
      total += Math.ceil((sizes[name][0] * sizes[name][1]) / 16) * 16;
    }
    return { sizes, offsets, total };
  };
  let { sizes, offsets, total } = layout(simd ? gatherRows : 0);
  const memory = simd ? createWasmMemory(total, parallel) : null;
  // Without WebAssembly (f not a multiple of 4, or more than 4 GB) the JS kernels need no gather space.
  if (!memory && simd) ({ sizes, offsets, total } = layout(0));
  type Name = keyof typeof sizes;
  const buffer = memory ? memory.buffer : parallel ? new SharedArrayBuffer(total) : new ArrayBuffer(total);
  const i32 = (n: Name) => new Int32Array(buffer, offsets[n], sizes[n][1]);
  const f32 = (n: Name) => new Float32Array(buffer, offsets[n], sizes[n][1]);
  const f64 = (n: Name) => new Float64Array(buffer, offsets[n], sizes[n][1]);

  // Rows and columns renumbered longest first: the factors of heavy users and popular items,
  // which most rows touch, then sit together in cache. Item rows are built by scanning users
  // in order and user rows by scanning items, so every row's indices come out ascending.
  const userOrder = orderByLength(train.indptr);
  const itemOrder = orderByLength(itemIndptr);
  const items: Csr = {
    rows: cols,
    cols: rows,
    indptr: i32('itemIndptr'),
    indices: i32('itemIndices'),
    values: f32('itemValues'),
  };
  for (let i = 0; i < cols; i++) {
    const old = itemOrder.order[i]!;
    items.indptr[i + 1] = items.indptr[i]! + itemIndptr[old + 1]! - itemIndptr[old]!;
  }
  const itemFill = items.indptr.slice(0, cols);
  for (let u = 0; u < rows; u++) {
    const old = userOrder.order[u]!;
    for (let j = train.indptr[old]!; j < train.indptr[old + 1]!; j++) {
      const q = itemFill[itemOrder.rank[train.indices[j]!]!]!++;
      items.indices[q] = u;
      items.values[q] = train.values[j]!;
    }
  }
  const users: Csr = {
    rows,
    cols,
    indptr: i32('userIndptr'),
    indices: i32('userIndices'),
    values: f32('userValues'),
  };
  for (let u = 0; u < rows; u++) {
    const old = userOrder.order[u]!;
    users.indptr[u + 1] = users.indptr[u]! + train.indptr[old + 1]! - train.indptr[old]!;
  }
  const userFill = users.indptr.slice(0, rows);
  for (let i = 0; i < cols; i++) {
    for (let q = items.indptr[i]!; q < items.indptr[i + 1]!; q++) {
      const p = userFill[items.indices[q]!]!++;
      users.indices[p] = i;
      users.values[p] = items.values[q]!;
    }
  }
  const buffers: AlsBuffers = {
    memory,
    factors: f,
    alpha: o.alpha,
    regularization: o.regularization,
    cgSteps: o.cgSteps,
    users,
    items,
    userFactors: f32('userFactors'),
    itemFactors: f32('itemFactors'),
    gramBlocks: f64('gramBlocks'),
    system: f64('system'),
    systemInverse: f64('systemInverse'),
    projected: f32('projected'),
    systemF32: f32('systemF32'),
    systemInverseF32: f32('systemInverseF32'),
    scratch: f32('scratch'),
    scratchStride: stride,
    cursor: i32('cursor'),
    gather: f32('gather'),
    gatherRows: memory ? gatherRows : 0,
  };
  return { buffers, userRank: userOrder.rank, itemRank: itemOrder.rank };
}

/** Rows by length, longest first, ties by index (a stable counting sort): new → old and old → new. */
function orderByLength(indptr: Int32Array): { order: Int32Array; rank: Int32Array } {
  const n = indptr.length - 1;
  const longest = maxRowLength(indptr);
  const start = new Int32Array(longest + 2);
  for (let r = 0; r < n; r++) start[longest - (indptr[r + 1]! - indptr[r]!) + 1]!++;
  for (let l = 0; l <= longest; l++) start[l + 1]! += start[l]!;
  const order = new Int32Array(n);
  const rank = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const at = start[longest - (indptr[r + 1]! - indptr[r]!)]!++;
    order[at] = r;
    rank[r] = at;
  }
  return { order, rank };
}

/** Starts of `parts` equal contiguous ranges of [0, n). */
function evenBounds(n: number, parts: number): number[] {
  const out: number[] = [];
  for (let w = 0; w <= parts; w++) out.push(Math.floor((n * w) / parts));
  return out;
}

function rangeTasks(bounds: number[], make: (start: number, end: number) => AlsTask): AlsTask[] {
  const tasks: AlsTask[] = [];
  for (let w = 0; w + 1 < bounds.length; w++) tasks.push(make(bounds[w]!, bounds[w + 1]!));
  return tasks;
}
