/**
 * A users × items block of dot products in WebAssembly SIMD, for ranking every item for many
 * users at once (factor-top-k.ts). Items are packed four to a "quad", factor-major within the
 * quad (`packed[q·4f + a·4 + lane] = y[(4q + lane)·f + a]`), so one `f32x4` multiply-add adds
 * factor `a` of one user to four items' scores at once, with no horizontal sums. The kernel
 * holds 4 users × 2 quads (8 `v128` accumulators) in registers and unrolls the factor loop.
 *
 * `scoreBlock(x, users, y, quads, out, strideBytes)`: for user rows `x[u·f ..)` (u < users, a
 * multiple of 4) and item quads `y[q·4f ..)` (q < quads, a multiple of 2), writes the scores
 * at `out + u·strideBytes + 16q`. Each score is a float32 sum over the factors in order (so it
 * differs from a float64 sum by at most about f·2⁻²⁴ · Σ|xₐyₐ|).
 */
import { compileModule, Fn, I32, instantiate, moduleBytes, SIMD, uleb, V128 } from './wasm-builder.ts';
import type { WasmMemory } from './wasm-builder.ts';

/** The largest factor count the kernel unrolls. */
export const SCORE_BLOCK_MAX_FACTORS = 512;
/** Users per register block (x rows the caller pads to a multiple of this). */
export const BLOCK_USERS = 4;
/** Items per register block (quads × 4; the caller pads item counts to a multiple of this). */
export const BLOCK_ITEMS = 8;

export interface ScoreBlockKernel {
  scoreBlock(x: number, users: number, y: number, quads: number, out: number, strideBytes: number): void;
}

function scoreBlockFn(f: number): Fn {
  const fn = new Fn('scoreBlock', [I32, I32, I32, I32, I32, I32]);
  const [x, users, y, quads, out, stride] = [0, 1, 2, 3, 4, 5];
  const ub = fn.local(I32);
  const qb = fn.local(I32);
  const px = fn.local(I32);
  const py = fn.local(I32);
  const po = fn.local(I32);
  const rowOut = fn.local(I32);
  const xs = Array.from({ length: BLOCK_USERS }, () => fn.local(V128));
  const ys = Array.from({ length: 2 }, () => fn.local(V128));
  const acc = Array.from({ length: BLOCK_USERS * 2 }, () => fn.local(V128));
  const quadBytes = 16 * f;
  // for (ub = 0; ub < users; ub += 4)
  fn.i32(0).set(ub);
  fn.whileLoop(
    () => fn.get(ub).get(users).op(0x4e), // i32.ge_s
    () => {
      // px = x + ub·4f; rowOut = out + ub·stride
      fn.get(x)
        .get(ub)
        .i32(4 * f)
        .op(0x6c, 0x6a)
        .set(px);
      fn.get(out).get(ub).get(stride).op(0x6c, 0x6a).set(rowOut);
      fn.i32(0).set(qb);
      fn.get(y).set(py);
      fn.whileLoop(
        () => fn.get(qb).get(quads).op(0x4e),
        () => {
          for (const a of acc) fn.zeroV().set(a);
          for (let a = 0; a < f; a++) {
            for (let r = 0; r < BLOCK_USERS; r++)
              fn.get(px)
                .simd(SIMD.V128_LOAD32_SPLAT)
                .op(2, ...uleb(4 * a + 4 * f * r))
                .set(xs[r]!);
            for (let j = 0; j < 2; j++)
              fn.get(py)
                .loadV(16 * a + quadBytes * j)
                .set(ys[j]!);
            for (let r = 0; r < BLOCK_USERS; r++)
              for (let j = 0; j < 2; j++) {
                const c = acc[r * 2 + j]!;
                fn.get(c).get(xs[r]!).get(ys[j]!).simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_ADD).set(c);
              }
          }
          // Store the 4 × 2 quads: po = rowOut + 16·qb, then one row down per user.
          fn.get(rowOut).get(qb).i32(16).op(0x6c, 0x6a).set(po);
          for (let r = 0; r < BLOCK_USERS; r++) {
            for (let j = 0; j < 2; j++)
              fn.get(po)
                .get(acc[r * 2 + j]!)
                .storeV(16 * j);
            if (r + 1 < BLOCK_USERS) fn.get(po).get(stride).op(0x6a).set(po);
          }
          fn.bump(qb, 2).bump(py, 2 * quadBytes);
        },
      );
      fn.bump(ub, BLOCK_USERS);
    },
  );
  return fn;
}

const modules = new Map<string, object | null>();

/**
 * The kernel for `f` factors over `memory` (any f up to {@link SCORE_BLOCK_MAX_FACTORS}), or
 * null when the runtime lacks WebAssembly SIMD.
 */
export function createScoreBlockKernel(memory: WasmMemory, f: number): ScoreBlockKernel | null {
  if (f < 1 || f > SCORE_BLOCK_MAX_FACTORS) return null;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const key = `${f}:${shared}`;
  if (!modules.has(key)) modules.set(key, compileModule(moduleBytes([scoreBlockFn(f)], shared)));
  const mod = modules.get(key);
  return mod ? (instantiate(mod, memory) as ScoreBlockKernel) : null;
}
