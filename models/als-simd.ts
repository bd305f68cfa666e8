/**
 * WebAssembly SIMD kernels for the hot loops of ALS, generated at run time for one factor
 * count f (a multiple of 4, every loop over f fully unrolled into f/4 `f32x4` operations, row
 * offsets folded into load/store immediates). All pointers are byte offsets into the
 * `WebAssembly.Memory` that holds the factors, the CSR arrays and per-thread scratch; the JS
 * kernels in als-kernel.ts are the reference they are tested against.
 *
 * Vector arithmetic is float32, as in the `implicit` library's float32 CG; the Woodbury row's
 * k × k Cholesky is scalar float64. Written against the binary format directly (there is no
 * WebAssembly toolchain in the project): see wasm-builder.ts for the instruction builder.
 */
import {
  compileModule,
  F32,
  F64,
  Fn,
  I32,
  instantiate,
  moduleBytes,
  SIMD,
  uleb,
  V128,
} from './wasm-builder.ts';
import type { WasmMemory } from './wasm-builder.ts';

// The memory helpers moved to wasm-builder.ts; re-exported for the ALS modules that take them from here.
export { createWasmMemory, WASM_MAX_PAGES, WASM_PAGE } from './wasm-builder.ts';
export type { WasmMemory } from './wasm-builder.ts';

const { V128_LOAD32_SPLAT, F32X4_SPLAT, F32X4_EXTRACT_LANE, F32X4_ADD, F32X4_SUB, F32X4_MUL } = SIMD;

/** The largest f the generated code unrolls (code size grows with f). */
export const SIMD_MAX_FACTORS = 512;

export interface AlsSimd {
  /** CG solve of one row; see `AlsKernel.cgRow`. Scratch: 4 f + `cgChunkEntries(f)` floats. */
  cgRow(
    xrow: number,
    s: number,
    e: number,
    y: number,
    idx: number,
    val: number,
    system: number,
    scr: number,
    alpha: number,
    steps: number,
    unused: number,
  ): void;
  /** As `cgRow`, after copying the entries' rows of y to `gbuf` (e − s rows of f floats). */
  cgRowGathered(
    xrow: number,
    s: number,
    e: number,
    y: number,
    idx: number,
    val: number,
    system: number,
    scr: number,
    alpha: number,
    steps: number,
    gbuf: number,
  ): void;
  /**
   * The whole Woodbury solve of a row of k entries into xrow (float64 k × k Cholesky);
   * workspace at `ws`: 8k² + 28k bytes.
   */
  woodRow(
    s: number,
    k: number,
    y: number,
    z: number,
    idx: number,
    val: number,
    alpha: number,
    ws: number,
    xrow: number,
  ): void;
  /** z(r) = M y(r) for rows [start, end), M symmetric f × f float32. */
  project(start: number, end: number, y: number, z: number, m: number): void;
  /**
   * out (f × f float32) = Σ y(r) y(r)ᵀ over rows [start, end); only cells on or above the
   * diagonal are meaningful. Register-blocked 4 × 8 tiles; keep ranges short (≈ 256 rows) so
   * the float32 sums stay accurate and the rows stay in cache.
   */
  gramChunk(start: number, end: number, y: number, out: number): void;
}

/** Pushes a · b (f32) for f-float rows at a + aOff and b + bOff; `tmp` is a v128 local. */
function dot(fn: Fn, q: number, a: number, aOff: number, b: number, bOff: number, tmp: number): void {
  const chains = Math.min(4, q);
  for (let c = 0; c < chains; c++) {
    for (let k = c; k < q; k += chains) {
      fn.get(a)
        .loadV(aOff + 16 * k)
        .get(b)
        .loadV(bOff + 16 * k)
        .simd(F32X4_MUL);
      if (k !== c) fn.simd(F32X4_ADD);
    }
    if (c > 0) fn.simd(F32X4_ADD);
  }
  fn.tee(tmp).simd(F32X4_EXTRACT_LANE).op(0);
  for (let lane = 1; lane < 4; lane++) fn.get(tmp).simd(F32X4_EXTRACT_LANE).op(lane).op(0x92);
}

/** y[yOff..] (+|-)= splat(c) * x[xOff..] over one f-float row. */
function axpy(
  fn: Fn,
  q: number,
  c: number,
  x: number,
  xOff: number,
  y: number,
  yOff: number,
  sub = false,
): void {
  for (let k = 0; k < q; k++) {
    fn.get(y)
      .get(y)
      .loadV(yOff + 16 * k);
    fn.get(c)
      .get(x)
      .loadV(xOff + 16 * k)
      .simd(F32X4_MUL);
    fn.simd(sub ? F32X4_SUB : F32X4_ADD).storeV(yOff + 16 * k);
  }
}

/** `rowPtr = base + fb * i32.load(entryPtr)` */
function rowOf(fn: Fn, fb: number, base: number, entryPtr: number, out: number): void {
  fn.get(base).get(entryPtr).loadI32(0).i32(fb).op(0x6c, 0x6a).set(out);
}

/** Entries per chunk of a CG pass: their rows (≈ 16 KB) stay in L1 between the two phases. */
export function cgChunkEntries(f: number): number {
  return Math.max(8, Math.floor(4096 / f));
}

/**
 * One CG pass: out = ±B v + Σⱼ coef(j, yⱼᵀv) yⱼ. B v first, then the entries chunk by chunk,
 * in two phases so nothing waits on a dot product:
 * 1. coef[j] for the chunk's entries (independent dot products), stored at scr + C;
 * 2. `out` eight quads at a time in registers while the chunk's rows stream past.
 */
function cgPass(
  fn: Fn,
  f: number,
  a: { s: number; e: number; y: number; idx: number; val: number; sys: number; scr: number },
  vOff: number,
  outOff: number,
  negateB: boolean,
  coefOf: (vb: number, tmp: number, yo: number) => void,
  gathered: number | null,
): void {
  const q = f / 4;
  const fb = 4 * f;
  const C = 4 * fb;
  const chunkBytes = 4 * cgChunkEntries(f);
  const jb = fn.local(I32);
  const jEnd = fn.local(I32);
  const cEnd = fn.local(I32);
  const jp = fn.local(I32);
  const vb = fn.local(I32);
  const cp = fn.local(I32);
  const yo = fn.local(I32);
  const bp = fn.local(I32);
  const gb = fn.local(I32);
  const tmp = fn.local(V128);
  const cv = fn.local(V128);
  const acc = Array.from({ length: Math.min(8, q) }, () => fn.local(V128));
  // The entry's row: from the gathered copy (yo advances with jp), or looked up in y.
  const firstRow = () => {
    if (gathered !== null) fn.get(gb).set(yo);
  };
  const nextRow = () => {
    if (gathered !== null) fn.bump(yo, fb);
  };
  const thisRow = () => {
    if (gathered === null) rowOf(fn, fb, a.y, jp, yo);
  };
  // out = ±B v, by blocks of up to 8 quads.
  for (let q0 = 0; q0 < q; q0 += 8) {
    const nq = Math.min(8, q - q0);
    for (let i = 0; i < nq; i++) fn.zeroV().set(acc[i]!);
    fn.get(a.sys).set(bp);
    fn.get(a.scr).set(cp);
    fn.get(a.scr).i32(fb).op(0x6a).set(cEnd);
    fn.whileLoop(
      () => fn.get(cp).get(cEnd).op(0x4f),
      () => {
        fn.get(cp)
          .simd(V128_LOAD32_SPLAT)
          .op(2, ...uleb(vOff))
          .set(cv);
        for (let i = 0; i < nq; i++) {
          fn.get(acc[i]!)
            .get(cv)
            .get(bp)
            .loadV(16 * (q0 + i))
            .simd(F32X4_MUL);
          fn.simd(negateB ? F32X4_SUB : F32X4_ADD).set(acc[i]!);
        }
        fn.bump(bp, fb).bump(cp, 4);
      },
    );
    for (let i = 0; i < nq; i++)
      fn.get(a.scr)
        .get(acc[i]!)
        .storeV(outOff + 16 * (q0 + i));
  }
  // The entries, chunk by chunk.
  fn.get(a.idx).get(a.s).i32(4).op(0x6c, 0x6a).set(jb);
  fn.get(a.idx).get(a.e).i32(4).op(0x6c, 0x6a).set(jEnd);
  fn.get(a.val).get(a.s).i32(4).op(0x6c, 0x6a).set(vb);
  if (gathered !== null) fn.get(gathered).set(gb);
  fn.whileLoop(
    () => fn.get(jb).get(jEnd).op(0x4f),
    () => {
      // cEnd = min(jb + chunk, jEnd)
      fn.get(jb).i32(chunkBytes).op(0x6a).tee(cEnd).get(jEnd).get(cEnd).get(jEnd).op(0x48).op(0x1b).set(cEnd);
      // Phase 1: coefficients (vb advances with jp).
      fn.get(jb).set(jp).get(a.scr).set(cp);
      firstRow();
      fn.whileLoop(
        () => fn.get(jp).get(cEnd).op(0x4f),
        () => {
          thisRow();
          fn.get(cp);
          coefOf(vb, tmp, yo);
          fn.storeF32(C);
          fn.bump(jp, 4).bump(vb, 4).bump(cp, 4);
          nextRow();
        },
      );
      // Phase 2: out += Σ coef[j] y_j over the chunk.
      for (let q0 = 0; q0 < q; q0 += 8) {
        const nq = Math.min(8, q - q0);
        for (let i = 0; i < nq; i++)
          fn.get(a.scr)
            .loadV(outOff + 16 * (q0 + i))
            .set(acc[i]!);
        fn.get(jb).set(jp).get(a.scr).set(cp);
        firstRow();
        fn.whileLoop(
          () => fn.get(jp).get(cEnd).op(0x4f),
          () => {
            thisRow();
            fn.get(cp)
              .simd(V128_LOAD32_SPLAT)
              .op(2, ...uleb(C))
              .set(cv);
            for (let i = 0; i < nq; i++) {
              fn.get(acc[i]!)
                .get(cv)
                .get(yo)
                .loadV(16 * (q0 + i))
                .simd(F32X4_MUL)
                .simd(F32X4_ADD)
                .set(acc[i]!);
            }
            fn.bump(jp, 4).bump(cp, 4);
            nextRow();
          },
        );
        for (let i = 0; i < nq; i++)
          fn.get(a.scr)
            .get(acc[i]!)
            .storeV(outOff + 16 * (q0 + i));
      }
      if (gathered !== null) {
        // gb += (cEnd − jb) · f: entries are 4 bytes, gathered rows 4f.
        fn.get(gb).get(cEnd).get(jb).op(0x6b).i32(f).op(0x6c, 0x6a).set(gb);
      }
      fn.get(cEnd).set(jb);
    },
  );
}

/**
 * The CG row solve. The gathered variant first copies the row's entries' y rows into one
 * contiguous buffer (one random-access pass with many loads in flight), so that the 1 +
 * `steps` passes read sequential memory instead of scattered rows.
 */
function cgRowFn(f: number, gather: boolean): Fn {
  const q = f / 4;
  const fb = 4 * f;
  const [X, R, P, AP] = [0, fb, 2 * fb, 3 * fb];
  const fn = new Fn(gather ? 'cgRowGathered' : 'cgRow', [
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    I32,
    F32,
    I32,
    I32,
  ]);
  const [xrow, s, e, y, idx, val, sys, scr, alpha, steps, gbuf] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const args = { s, e, y, idx, val, sys, scr };
  const gathered = gather ? gbuf : null;
  if (gather) {
    const jp = fn.local(I32);
    const jEnd = fn.local(I32);
    const yo = fn.local(I32);
    const gp = fn.local(I32);
    fn.get(idx).get(s).i32(4).op(0x6c, 0x6a).set(jp);
    fn.get(idx).get(e).i32(4).op(0x6c, 0x6a).set(jEnd);
    fn.get(gbuf).set(gp);
    fn.whileLoop(
      () => fn.get(jp).get(jEnd).op(0x4f),
      () => {
        rowOf(fn, fb, y, jp, yo);
        for (let k = 0; k < q; k++)
          fn.get(gp)
            .get(yo)
            .loadV(16 * k)
            .storeV(16 * k);
        fn.bump(jp, 4).bump(gp, fb);
      },
    );
  }
  const st = fn.local(I32);
  const v = fn.local(F32);
  const conf = fn.local(F32);
  const rsOld = fn.local(F32);
  const rsNew = fn.local(F32);
  const c = fn.local(V128);
  const tmp = fn.local(V128);

  // x = X[row]
  for (let k = 0; k < q; k++)
    fn.get(scr)
      .get(xrow)
      .loadV(16 * k)
      .storeV(X + 16 * k);
  // r = −B x + Σ (t − conf·yᵀx) y
  cgPass(
    fn,
    f,
    args,
    X,
    R,
    true,
    (vb, t2, yo) => {
      fn.get(vb).loadF32(0).set(v);
      fn.get(alpha).get(v).op(0x8b, 0x94).set(conf); // conf = alpha * |v|
      // t = v > 0 ? 1 + conf : 0
      fn.f32(1).get(conf).op(0x92).f32(0).get(v).f32(0).op(0x5e).op(0x1b);
      fn.get(conf);
      dot(fn, q, yo, 0, scr, X, t2);
      fn.op(0x94, 0x93); // t − conf·d
    },
    gathered,
  );
  dot(fn, q, scr, R, scr, R, tmp);
  fn.tee(rsOld).f32(1e-20).op(0x5d).op(0x04, 0x40, 0x0f, 0x0b); // if (rsOld < 1e-20) return
  for (let k = 0; k < q; k++)
    fn.get(scr)
      .get(scr)
      .loadV(R + 16 * k)
      .storeV(P + 16 * k);
  fn.i32(0).set(st);
  fn.whileLoop(
    () => fn.get(st).get(steps).op(0x4e), // i32.ge_s
    () => {
      // Ap = B p + Σ conf (yᵀp) y
      cgPass(
        fn,
        f,
        args,
        P,
        AP,
        false,
        (vb, t2, yo) => {
          fn.get(alpha).get(vb).loadF32(0).op(0x8b, 0x94);
          dot(fn, q, yo, 0, scr, P, t2);
          fn.op(0x94);
        },
        gathered,
      );
      // step = rsOld / pᵀAp; x += step p; r −= step Ap
      fn.get(rsOld);
      dot(fn, q, scr, P, scr, AP, tmp);
      fn.op(0x95).simd(F32X4_SPLAT).set(c);
      axpy(fn, q, c, scr, P, scr, X);
      axpy(fn, q, c, scr, AP, scr, R, true);
      dot(fn, q, scr, R, scr, R, tmp);
      fn.tee(rsNew).f32(1e-20).op(0x5d).op(0x0d, 1); // br_if 1: converged
      // p = r + (rsNew / rsOld) p
      fn.get(rsNew).get(rsOld).op(0x95).simd(F32X4_SPLAT).set(c);
      for (let k = 0; k < q; k++) {
        fn.get(scr)
          .get(scr)
          .loadV(R + 16 * k);
        fn.get(c)
          .get(scr)
          .loadV(P + 16 * k)
          .simd(F32X4_MUL)
          .simd(F32X4_ADD)
          .storeV(P + 16 * k);
      }
      fn.get(rsNew).set(rsOld);
      fn.bump(st, 1);
    },
  );
  for (let k = 0; k < q; k++)
    fn.get(xrow)
      .get(scr)
      .loadV(X + 16 * k)
      .storeV(16 * k);
  return fn;
}

/**
 * The whole Woodbury row solve (see als-kernel.ts): G and M = I + S G S from SIMD dot
 * products, then a float64 k × k Cholesky, then x = Zᵤᵀ (t − S w). Workspace at `ws`:
 * M (8k² bytes), t, √conf, g (8k each), coef (4k).
 */
function woodRowFn(f: number): Fn {
  const q = f / 4;
  const fb = 4 * f;
  const fn = new Fn('woodRow', [I32, I32, I32, I32, I32, I32, F32, I32, I32]);
  const [s, k, y, z, idx, val, alpha, ws, xrow] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [i, j, m, mp, tp, sp, gp, cp, yo, zo, ep] = Array.from({ length: 11 }, () => fn.local(I32));
  const v = fn.local(F32);
  const [conf, gv, tj, sj, acc] = Array.from({ length: 5 }, () => fn.local(F64));
  const tmp = fn.local(V128);
  const cv = fn.local(V128);
  const accs = Array.from({ length: Math.min(8, q) }, () => fn.local(V128));
  const zeroI = () => fn.i32(0);
  const kI = () => fn.get(k);
  const mul = () => fn.op(0x6c);
  const add = () => fn.op(0x6a);
  /** Pushes base + 8·(index). */
  const at8 = (base: number, index: () => void) => {
    fn.get(base);
    index();
    fn.i32(8);
    mul();
    add();
  };
  /** Pushes the address of M[a][b]. */
  const mAt = (a: number, b: number) =>
    at8(mp, () => {
      fn.get(a).get(k);
      mul();
      fn.get(b);
      add();
    });
  const rowInto = (base: number, e: number, out: number) => {
    fn.get(idx).get(s).get(e);
    add();
    fn.i32(4);
    mul();
    add();
    fn.set(ep);
    rowOf(fn, fb, base, ep, out);
  };
  // Layout.
  fn.get(ws).set(mp);
  fn.get(ws).get(k).get(k);
  mul();
  fn.i32(8);
  mul();
  add();
  fn.set(tp);
  at8(tp, kI);
  fn.set(sp);
  at8(sp, kI);
  fn.set(gp);
  at8(gp, kI);
  fn.set(cp);
  // (1) t, √conf, g = 0.
  fn.forRange(j, zeroI, kI, () => {
    fn.get(val).get(s).get(j);
    add();
    fn.i32(4);
    mul();
    add();
    fn.loadF32(0).set(v);
    fn.get(alpha).get(v).op(0x8b, 0x94, 0xbb).set(conf); // f64(alpha·|v|)
    at8(tp, () => fn.get(j));
    fn.f64(1).get(conf).op(0xa0).f64(0).get(v).f32(0).op(0x5e, 0x1b).storeF64(0);
    at8(sp, () => fn.get(j));
    fn.get(conf).op(0x9f).storeF64(0); // sqrt
    at8(gp, () => fn.get(j));
    fn.f64(0).storeF64(0);
  });
  // (2) G (via dot products) into g += G t and M = I + S G S, lower triangle.
  fn.forRange(j, zeroI, kI, () => {
    rowInto(y, j, yo);
    at8(tp, () => fn.get(j));
    fn.loadF64(0).set(tj);
    at8(sp, () => fn.get(j));
    fn.loadF64(0).set(sj);
    fn.forRange(
      i,
      zeroI,
      () => fn.get(j).i32(1).op(0x6a),
      () => {
        rowInto(z, i, zo);
        dot(fn, q, yo, 0, zo, 0, tmp);
        fn.op(0xbb).set(gv);
        // g[j] += gv·t[i]
        at8(gp, () => fn.get(j));
        at8(gp, () => fn.get(j));
        fn.loadF64(0).get(gv);
        at8(tp, () => fn.get(i));
        fn.loadF64(0).op(0xa2, 0xa0).storeF64(0);
        // if (i != j) g[i] += gv·t[j]
        fn.get(i).get(j).op(0x47, 0x04, 0x40);
        at8(gp, () => fn.get(i));
        at8(gp, () => fn.get(i));
        fn.loadF64(0).get(gv).get(tj).op(0xa2, 0xa0).storeF64(0);
        fn.op(0x0b);
        // M[j][i] = sj·gv·s[i] + (i == j)
        mAt(j, i);
        fn.get(sj).get(gv).op(0xa2);
        at8(sp, () => fn.get(i));
        fn.loadF64(0).op(0xa2);
        fn.f64(1).f64(0).get(i).get(j).op(0x46, 0x1b, 0xa0);
        fn.storeF64(0);
      },
    );
  });
  // (3) g = S g.
  fn.forRange(j, zeroI, kI, () => {
    at8(gp, () => fn.get(j));
    at8(gp, () => fn.get(j));
    fn.loadF64(0);
    at8(sp, () => fn.get(j));
    fn.loadF64(0).op(0xa2).storeF64(0);
  });
  // (4) Cholesky M = L Lᵀ in place (lower triangle). M ⪰ I, so pivots stay ≥ 1.
  fn.forRange(j, zeroI, kI, () => {
    mAt(j, j);
    fn.loadF64(0).set(acc);
    fn.forRange(
      m,
      zeroI,
      () => fn.get(j),
      () => {
        fn.get(acc);
        mAt(j, m);
        fn.loadF64(0).tee(gv).get(gv).op(0xa2, 0xa1).set(acc);
      },
    );
    mAt(j, j);
    fn.get(acc).op(0x9f).tee(acc).storeF64(0);
    fn.f64(1).get(acc).op(0xa3).set(sj); // 1 / pivot
    fn.forRange(
      i,
      () => fn.get(j).i32(1).op(0x6a),
      kI,
      () => {
        mAt(i, j);
        fn.loadF64(0).set(acc);
        fn.forRange(
          m,
          zeroI,
          () => fn.get(j),
          () => {
            fn.get(acc);
            mAt(i, m);
            fn.loadF64(0);
            mAt(j, m);
            fn.loadF64(0).op(0xa2, 0xa1).set(acc);
          },
        );
        mAt(i, j);
        fn.get(acc).get(sj).op(0xa2).storeF64(0);
      },
    );
  });
  // (5) L Lᵀ w = g: forward, then backward (i = k − 1 − j).
  fn.forRange(i, zeroI, kI, () => {
    at8(gp, () => fn.get(i));
    fn.loadF64(0).set(acc);
    fn.forRange(
      m,
      zeroI,
      () => fn.get(i),
      () => {
        fn.get(acc);
        mAt(i, m);
        fn.loadF64(0);
        at8(gp, () => fn.get(m));
        fn.loadF64(0).op(0xa2, 0xa1).set(acc);
      },
    );
    at8(gp, () => fn.get(i));
    fn.get(acc);
    mAt(i, i);
    fn.loadF64(0).op(0xa3).storeF64(0);
  });
  fn.forRange(j, zeroI, kI, () => {
    fn.get(k).i32(1).op(0x6b).get(j).op(0x6b).set(i);
    at8(gp, () => fn.get(i));
    fn.loadF64(0).set(acc);
    fn.forRange(
      m,
      () => fn.get(i).i32(1).op(0x6a),
      kI,
      () => {
        fn.get(acc);
        mAt(m, i);
        fn.loadF64(0);
        at8(gp, () => fn.get(m));
        fn.loadF64(0).op(0xa2, 0xa1).set(acc);
      },
    );
    at8(gp, () => fn.get(i));
    fn.get(acc);
    mAt(i, i);
    fn.loadF64(0).op(0xa3).storeF64(0);
  });
  // (6) coef = t − S w (float32).
  fn.forRange(j, zeroI, kI, () => {
    fn.get(cp).get(j).i32(4);
    mul();
    add();
    at8(tp, () => fn.get(j));
    fn.loadF64(0);
    at8(sp, () => fn.get(j));
    fn.loadF64(0);
    at8(gp, () => fn.get(j));
    fn.loadF64(0).op(0xa2, 0xa1, 0xb6).storeF32(0);
  });
  // (7) x = Σ coef[j] z_j, eight quads at a time in registers.
  for (let q0 = 0; q0 < q; q0 += 8) {
    const nq = Math.min(8, q - q0);
    for (let a = 0; a < nq; a++) fn.zeroV().set(accs[a]!);
    fn.forRange(j, zeroI, kI, () => {
      rowInto(z, j, zo);
      fn.get(cp).get(j).i32(4);
      mul();
      add();
      fn.simd(V128_LOAD32_SPLAT).op(2, 0).set(cv);
      for (let a = 0; a < nq; a++) {
        fn.get(accs[a]!)
          .get(cv)
          .get(zo)
          .loadV(16 * (q0 + a))
          .simd(F32X4_MUL)
          .simd(F32X4_ADD)
          .set(accs[a]!);
      }
    });
    for (let a = 0; a < nq; a++)
      fn.get(xrow)
        .get(accs[a]!)
        .storeV(16 * (q0 + a));
  }
  return fn;
}

function projectFn(f: number): Fn {
  const fb = 4 * f;
  const fn = new Fn('project', [I32, I32, I32, I32, I32]);
  const [start, end, y, z, m] = [0, 1, 2, 3, 4];
  const yo = fn.local(I32);
  const zo = fn.local(I32);
  const yEnd = fn.local(I32);
  const q = f / 4;
  const mp = fn.local(I32);
  const op = fn.local(I32);
  const opEnd = fn.local(I32);
  const tmp = fn.local(V128);
  fn.get(y).get(start).i32(fb).op(0x6c, 0x6a).set(yo);
  fn.get(y).get(end).i32(fb).op(0x6c, 0x6a).set(yEnd);
  fn.get(z).get(start).i32(fb).op(0x6c, 0x6a).set(zo);
  fn.whileLoop(
    () => fn.get(yo).get(yEnd).op(0x4f),
    () => {
      fn.get(m).set(mp).get(zo).set(op).get(zo).i32(fb).op(0x6a).set(opEnd);
      fn.whileLoop(
        () => fn.get(op).get(opEnd).op(0x4f),
        () => {
          fn.get(op);
          dot(fn, q, mp, 0, yo, 0, tmp);
          fn.storeF32(0);
          fn.bump(mp, fb).bump(op, 4);
        },
      );
      fn.bump(yo, fb).bump(zo, fb);
    },
  );
  return fn;
}

function gramChunkFn(f: number): Fn {
  const fb = 4 * f;
  const q = f / 4;
  const fn = new Fn('gramChunk', [I32, I32, I32, I32]);
  const [start, end, y, out] = [0, 1, 2, 3];
  const rp = fn.local(I32);
  const rEnd = fn.local(I32);
  const acc = Array.from({ length: 8 }, () => fn.local(V128));
  const v = [fn.local(V128), fn.local(V128)];
  const sp = fn.local(V128);
  const zero = () => fn.zeroV();
  fn.get(y).get(end).i32(fb).op(0x6c, 0x6a).set(rEnd);
  for (let a0 = 0; a0 < f; a0 += 4) {
    for (let b0 = 0; b0 < f; b0 += 8) {
      if (b0 + 7 < a0) continue; // wholly below the diagonal
      const quads = Math.min(2, q - b0 / 4);
      for (let i = 0; i < 4 * quads; i++) zero().set(acc[i]!);
      fn.get(y).get(start).i32(fb).op(0x6c, 0x6a).set(rp);
      fn.whileLoop(
        () => fn.get(rp).get(rEnd).op(0x4f),
        () => {
          for (let c = 0; c < quads; c++)
            fn.get(rp)
              .loadV(4 * b0 + 16 * c)
              .set(v[c]!);
          for (let i = 0; i < 4; i++) {
            fn.get(rp)
              .simd(V128_LOAD32_SPLAT)
              .op(2, ...uleb(4 * (a0 + i)))
              .set(sp);
            for (let c = 0; c < quads; c++) {
              const t = acc[i * quads + c]!;
              fn.get(t).get(sp).get(v[c]!).simd(F32X4_MUL).simd(F32X4_ADD).set(t);
            }
          }
          fn.bump(rp, fb);
        },
      );
      for (let i = 0; i < 4; i++) {
        for (let c = 0; c < quads; c++) {
          fn.get(out)
            .get(acc[i * quads + c]!)
            .storeV(4 * ((a0 + i) * f + b0) + 16 * c);
        }
      }
    }
  }
  return fn;
}

/** The module's bytes for factor count f, importing memory `env.memory` (shared or not). */
export function alsSimdModuleBytes(f: number, shared: boolean): Uint8Array {
  return moduleBytes(
    [cgRowFn(f, false), cgRowFn(f, true), woodRowFn(f), projectFn(f), gramChunkFn(f)],
    shared,
  );
}

const moduleCache = new Map<string, object>();

/**
 * Instantiates the kernels for f over `memory`, or returns null when f is not a multiple of 4
 * (or too large to unroll) or the runtime lacks WebAssembly SIMD; callers then use JS.
 */
export function createAlsSimd(memory: WasmMemory, f: number): AlsSimd | null {
  if (f % 4 !== 0 || f > SIMD_MAX_FACTORS) return null;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const key = `${f}:${shared}`;
  let mod = moduleCache.get(key);
  if (!mod) {
    mod = compileModule(alsSimdModuleBytes(f, shared)) ?? undefined;
    if (!mod) return null;
    moduleCache.set(key, mod);
  }
  return instantiate(mod, memory) as AlsSimd;
}
