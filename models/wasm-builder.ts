/**
 * A minimal WebAssembly binary builder for kernels generated at run time (there is no
 * WebAssembly toolchain in the project): `Fn` assembles one function instruction by
 * instruction, `moduleBytes` wraps functions into a module that imports its memory as
 * `env.memory`, and `createWasmMemory` / `instantiate` are the parts of the JS API the kernels
 * use. Shared by the ALS kernels (als-simd.ts) and the int8 row scan (src/index/quantized-rows.ts).
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** SIMD opcodes (after the 0xfd prefix) used by the generated kernels. */
export const SIMD = {
  V128_LOAD: 0x00,
  /** Loads 8 bytes and sign-extends them to eight i16 lanes. */
  I16X8_LOAD8X8_S: 0x01,
  V128_LOAD32_SPLAT: 0x09,
  V128_STORE: 0x0b,
  V128_CONST: 0x0c,
  F32X4_SPLAT: 0x13,
  F64X2_SPLAT: 0x14,
  I32X4_EXTRACT_LANE: 0x1b,
  F32X4_EXTRACT_LANE: 0x1f,
  V128_AND: 0x4e,
  V128_ANY_TRUE: 0x53,
  /** Stores one 64-bit lane (memarg, then the lane index). */
  V128_STORE64_LANE: 0x5b,
  I8X16_NARROW_I16X8_S: 0x65,
  /** Round to nearest, ties to even. */
  F32X4_NEAREST: 0x6a,
  I16X8_NARROW_I32X4_S: 0x85,
  I32X4_ADD: 0xae,
  I32X4_DOT_I16X8_S: 0xba,
  F32X4_ABS: 0xe0,
  F32X4_ADD: 0xe4,
  F32X4_SUB: 0xe5,
  F32X4_MUL: 0xe6,
  F32X4_DIV: 0xe7,
  F32X4_MAX: 0xe9,
  F64X2_ADD: 0xf0,
  F64X2_MUL: 0xf2,
  I32X4_TRUNC_SAT_F32X4_S: 0xf8,
} as const;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** One function's code, built instruction by instruction. */
export class Fn {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(
    readonly name: string,
    readonly params: number[],
    /** Result types (none, or one). */
    readonly results: number[] = [],
  ) {}

  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
  get(l: number): this {
    return this.op(0x20, ...uleb(l));
  }
  set(l: number): this {
    return this.op(0x21, ...uleb(l));
  }
  tee(l: number): this {
    return this.op(0x22, ...uleb(l));
  }
  i32(n: number): this {
    return this.op(0x41, ...sleb(n));
  }
  f32(x: number): this {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return this.op(0x43, b[0]!, b[1]!, b[2]!, b[3]!);
  }
  f64(x: number): this {
    const b = new Uint8Array(new Float64Array([x]).buffer);
    return this.op(0x44, ...b);
  }
  loadF64(offset: number): this {
    return this.op(0x2b, 3, ...uleb(offset));
  }
  storeF64(offset: number): this {
    return this.op(0x39, 3, ...uleb(offset));
  }
  /** `for (i = from; i < to; i++) body` over an i32 local; `from`/`to` push i32s. */
  forRange(i: number, from: () => void, to: () => void, body: () => void): this {
    from();
    this.set(i);
    return this.whileLoop(
      () => {
        this.get(i);
        to();
        this.op(0x4e); // i32.ge_s
      },
      () => {
        body();
        this.bump(i, 1);
      },
    );
  }
  simd(opcode: number): this {
    return this.op(0xfd, ...uleb(opcode));
  }
  loadI32(offset: number): this {
    return this.op(0x28, 2, ...uleb(offset));
  }
  storeI32(offset: number): this {
    return this.op(0x36, 2, ...uleb(offset));
  }
  /** i32.load8_u */
  loadU8(offset: number): this {
    return this.op(0x2d, 0, ...uleb(offset));
  }
  loadF32(offset: number): this {
    return this.op(0x2a, 2, ...uleb(offset));
  }
  storeF32(offset: number): this {
    return this.op(0x38, 2, ...uleb(offset));
  }
  loadV(offset: number): this {
    return this.simd(SIMD.V128_LOAD).op(2, ...uleb(offset));
  }
  storeV(offset: number): this {
    return this.simd(SIMD.V128_STORE).op(2, ...uleb(offset));
  }
  /** An all-zero v128. */
  zeroV(): this {
    return this.simd(SIMD.V128_CONST).op(...new Array<number>(16).fill(0));
  }
  /** `ptr += n` for an i32 local. */
  bump(l: number, n: number): this {
    return this.get(l).i32(n).op(0x6a).set(l);
  }
  /** `block { loop { if (!cond) break; body; br loop } }`; `exitIf` pushes an i32 that ends the loop. */
  whileLoop(exitIf: () => void, body: () => void): this {
    this.op(0x02, 0x40, 0x03, 0x40);
    exitIf();
    this.op(0x0d, 1); // br_if 1: leave the block
    body();
    this.op(0x0c, 0, 0x0b, 0x0b); // br 0: next turn; end loop; end block
    return this;
  }

  body(): number[] {
    const groups: [number, number][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const bytes = [
      ...uleb(groups.length),
      ...groups.flatMap(([n, t]) => [...uleb(n), t]),
      ...this.code,
      0x0b,
    ];
    return [...uleb(bytes.length), ...bytes];
  }
}

export function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

export function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/**
 * A module exporting `fns` (by their names) and importing its memory as `env.memory`: shared
 * (then declared with the maximum of 65536 pages) or not (no maximum, so it can grow).
 */
export function moduleBytes(fns: Fn[], shared: boolean): Uint8Array {
  const types = fns.map((fn) => [
    0x60,
    ...uleb(fn.params.length),
    ...fn.params,
    ...uleb(fn.results.length),
    ...fn.results,
  ]);
  const memType = shared ? [0x03, 0, ...uleb(WASM_MAX_PAGES)] : [0x00, 0];
  const imports = [[...name('env'), ...name('memory'), 0x02, ...memType]];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((fn, i) => [...name(fn.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((fn) => fn.body()))),
  ];
  return new Uint8Array(bytes);
}

/** The part of the WebAssembly JS API used here (the project's TS libs do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Adds `pages` pages; returns the previous size in pages (throws when it cannot). */
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Bytes in one WebAssembly page, and the most pages a 32-bit memory can have. */
export const WASM_PAGE = 65536;
export const WASM_MAX_PAGES = 65536;

/**
 * A memory of `bytes` (rounded up to pages), or null when WebAssembly cannot hold it. By
 * default exactly that size; `growable` leaves out the maximum (not for shared memories,
 * which need one) so that `grow` can extend it later.
 */
export function createWasmMemory(bytes: number, shared: boolean, growable = false): WasmMemory | null {
  const pages = Math.max(1, Math.ceil(bytes / WASM_PAGE));
  if (!wasm || pages > WASM_MAX_PAGES) return null;
  try {
    return new wasm.Memory(
      growable && !shared ? { initial: pages } : { initial: pages, maximum: pages, shared },
    );
  } catch {
    return null; // e.g. the address space cannot reserve it
  }
}

/** Compiles `bytes`, or returns null when the runtime lacks WebAssembly or rejects them (e.g. no SIMD). */
export function compileModule(bytes: Uint8Array): object | null {
  if (!wasm || !wasm.validate(bytes)) return null;
  return new wasm.Module(bytes);
}

/** Instantiates a module from `moduleBytes` over `memory`; returns its exports. */
export function instantiate(mod: object, memory: WasmMemory): unknown {
  if (!wasm) throw new Error('WebAssembly is not available');
  return new wasm.Instance(mod, { env: { memory } }).exports;
}
