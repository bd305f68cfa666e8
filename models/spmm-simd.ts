/**
 * Sparse × dense products in float32 for the content encoder's ridge CG (ridge-columns.ts), in
 * WebAssembly SIMD: `spmm` writes `out` (rows × g) = A v for a CSR `A` and a dense `v` (A.cols
 * × g), four float32 lanes at a time, the output row held in registers while the row's entries
 * stream past. Each output value is summed from 0 over the row's entries in their stored order,
 * `acc + a·v` without fused multiply-add, rounded to float32 at each step: exactly what
 * ridge-columns.ts's scalar loop computes, bit for bit. Aᵀ t is the same product over the
 * transposed CSR (a stable transpose keeps each column's rows ascending, the order a scatter
 * over the rows adds them in).
 */
import {
  compileModule,
  createWasmMemory,
  Fn,
  I32,
  instantiate,
  moduleBytes,
  SIMD,
  V128,
} from './wasm-builder.ts';
import type { WasmMemory } from './wasm-builder.ts';
import type { Csr } from './sparse.ts';

/** The widest row the kernel keeps in registers (g/4 v128 accumulators). */
export const SPMM_MAX_WIDTH = 128;

interface SpmmExports {
  spmm(indptr: number, indices: number, values: number, rows: number, v: number, out: number): void;
}

function spmmFn(g: number): Fn {
  const fn = new Fn('spmm', [I32, I32, I32, I32, I32, I32]);
  const [ip, ix, iv, rows, v, out] = [0, 1, 2, 3, 4, 5];
  const r = fn.local(I32);
  const p = fn.local(I32);
  const pEnd = fn.local(I32);
  const o = fn.local(I32);
  const row = fn.local(I32);
  const a = fn.local(V128);
  const acc = Array.from({ length: g / 4 }, () => fn.local(V128));
  fn.i32(0).set(r);
  fn.get(out).set(o);
  fn.whileLoop(
    () => fn.get(r).get(rows).op(0x4e), // i32.ge_s
    () => {
      for (const c of acc) fn.zeroV().set(c);
      fn.get(ip).get(r).i32(4).op(0x6c, 0x6a).loadI32(0).set(p);
      fn.get(ip).get(r).i32(4).op(0x6c, 0x6a).loadI32(4).set(pEnd);
      fn.whileLoop(
        () => fn.get(p).get(pEnd).op(0x4e),
        () => {
          // a = splat(values[p]); row = v + indices[p] · 4g
          fn.get(iv).get(p).i32(4).op(0x6c, 0x6a).loadF32(0).simd(SIMD.F32X4_SPLAT).set(a);
          fn.get(ix)
            .get(p)
            .i32(4)
            .op(0x6c, 0x6a)
            .loadI32(0)
            .i32(4 * g)
            .op(0x6c)
            .get(v)
            .op(0x6a)
            .set(row);
          acc.forEach((c, k) =>
            fn
              .get(c)
              .get(a)
              .get(row)
              .loadV(16 * k)
              .simd(SIMD.F32X4_MUL)
              .simd(SIMD.F32X4_ADD)
              .set(c),
          );
          fn.bump(p, 1);
        },
      );
      acc.forEach((c, k) =>
        fn
          .get(o)
          .get(c)
          .storeV(16 * k),
      );
      fn.bump(o, 4 * g).bump(r, 1);
    },
  );
  return fn;
}

const modules = new Map<number, object | null>();

/** A CSR placed in the memory: byte offsets of its arrays. */
interface PlacedCsr {
  rows: number;
  indptr: number;
  indices: number;
  values: number;
}

/**
 * X and Xᵀ and three dense float32 blocks (`dir`: X.cols × g, `t`: X.rows × g, `q`: X.cols × g)
 * in one memory, for `t = X dir` and `q = Xᵀ t`.
 */
export class SpmmPair {
  private constructor(
    private readonly kernel: SpmmExports,
    private readonly x: PlacedCsr,
    private readonly xt: PlacedCsr,
    private readonly at: { dir: number; t: number; q: number },
    readonly dir: Float32Array,
    readonly t: Float32Array,
    readonly q: Float32Array,
  ) {}

  /** Null when g is not a multiple of 4 or is wider than {@link SPMM_MAX_WIDTH}, or without WebAssembly SIMD. */
  static create(x: Csr, xt: Csr, g: number): SpmmPair | null {
    if (g % 4 !== 0 || g < 4 || g > SPMM_MAX_WIDTH) return null;
    const sizes = [
      4 * (x.rows + 1),
      4 * x.indices.length,
      4 * x.indices.length,
      4 * (xt.rows + 1),
      4 * xt.indices.length,
      4 * xt.indices.length,
      4 * x.cols * g,
      4 * x.rows * g,
      4 * x.cols * g,
    ];
    const offsets: number[] = [];
    let total = 0;
    for (const size of sizes) {
      offsets.push(total);
      total += Math.ceil(size / 16) * 16;
    }
    const memory: WasmMemory | null = createWasmMemory(total, false);
    if (!memory) return null;
    if (!modules.has(g)) modules.set(g, compileModule(moduleBytes([spmmFn(g)], false)));
    const mod = modules.get(g);
    if (!mod) return null;
    const kernel = instantiate(mod, memory) as SpmmExports;
    const buf = memory.buffer;
    const place = (m: Csr, k: number): PlacedCsr => {
      new Int32Array(buf, offsets[k]!, m.rows + 1).set(m.indptr.subarray(0, m.rows + 1));
      new Int32Array(buf, offsets[k + 1]!, m.indices.length).set(m.indices);
      new Float32Array(buf, offsets[k + 2]!, m.indices.length).set(m.values.subarray(0, m.indices.length));
      return { rows: m.rows, indptr: offsets[k]!, indices: offsets[k + 1]!, values: offsets[k + 2]! };
    };
    const [dir, t, q] = [offsets[6]!, offsets[7]!, offsets[8]!];
    return new SpmmPair(
      kernel,
      place(x, 0),
      place(xt, 3),
      { dir, t, q },
      new Float32Array(buf, dir, x.cols * g),
      new Float32Array(buf, t, x.rows * g),
      new Float32Array(buf, q, x.cols * g),
    );
  }

  /** t = X dir */
  forward(): void {
    const { x, at } = this;
    this.kernel.spmm(x.indptr, x.indices, x.values, x.rows, at.dir, at.t);
  }

  /** q = Xᵀ t */
  backward(): void {
    const { xt, at } = this;
    this.kernel.spmm(xt.indptr, xt.indices, xt.values, xt.rows, at.t, at.q);
  }
}
