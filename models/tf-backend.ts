/**
 * One TensorFlow.js runtime per process, picked once: the native `@tensorflow/tfjs-node`
 * binding when it is installed (an optional dependency: it downloads libtensorflow at install
 * time), else the WebAssembly backend (XNNPACK, SIMD; single-threaded under Node), else the
 * pure-JavaScript `cpu` backend.
 *
 * Only training uses TensorFlow.js; inference in models/ runs on typed arrays, so serving never
 * needs this module.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TfModule from '@tensorflow/tfjs';

/** The TensorFlow.js namespace (`@tensorflow/tfjs`, or tfjs-node which re-exports it). */
export type Tf = typeof TfModule;

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface TfRuntime {
  tf: Tf;
  /** The active backend: `tensorflow` (tfjs-node), `wasm` or `cpu`. */
  backend: TfBackendName;
}

export interface InitTfOptions {
  /**
   * Backends to try, in order; the first that initialises wins. Only the first call's list
   * matters for loading; a later call whose list starts with another loaded backend switches to it.
   * @defaultValue ['tensorflow', 'wasm', 'cpu']
   */
  prefer?: TfBackendName[];
}

const DEFAULT_ORDER: TfBackendName[] = ['tensorflow', 'wasm', 'cpu'];

// A variable, not a literal: `tsc` does not try to resolve a module that is not installed, and
// bundlers leave the import alone. The package is an optional dependency.
const TFJS_NODE: string = '@tensorflow/tfjs-node';

let loading: Promise<TfRuntime> | null = null;

/**
 * Loads TensorFlow.js and selects a backend (see the module comment). Idempotent: every call
 * returns the same runtime, loaded once.
 */
export async function initTf(options: InitTfOptions = {}): Promise<TfRuntime> {
  const order = options.prefer ?? DEFAULT_ORDER;
  if (order.length === 0) throw new RangeError('prefer must name at least one backend');
  loading ??= load(order);
  const runtime = await loading;
  const wanted = order[0]!;
  if (options.prefer && wanted !== runtime.backend && runtime.tf.findBackendFactory(wanted)) {
    if (await trySetBackend(runtime.tf, wanted)) {
      registerSegmentSum(runtime.tf, wanted);
      runtime.backend = wanted;
    }
  }
  return runtime;
}

async function load(order: TfBackendName[]): Promise<TfRuntime> {
  let tf: Tf | null = null;
  if (order.includes('tensorflow')) {
    try {
      // The binding registers the `tensorflow` backend with the highest priority on import.
      tf = (await import(TFJS_NODE)) as Tf;
    } catch {
      tf = null; // not installed, or libtensorflow missing: fall through to wasm / cpu
    }
  }
  tf ??= await import('@tensorflow/tfjs');
  for (const name of order) {
    if (name === 'tensorflow' && !tf.findBackendFactory('tensorflow')) continue;
    if (name === 'wasm' && !(await registerWasm(tf))) continue;
    if (await trySetBackend(tf, name)) {
      registerSegmentSum(tf, name);
      return { tf, backend: name };
    }
  }
  throw new Error(`no TensorFlow.js backend among ${order.join(', ')} could be initialised`);
}

async function registerWasm(tf: Tf): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Point the loader at the .wasm binaries inside node_modules by file path: Emscripten's
    // default guess (next to the bundled script) is wrong under bundlers and test runners.
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(join(dirname(entry), '/'));
    return tf.findBackendFactory('wasm') !== undefined;
  } catch {
    return false;
  }
}

async function trySetBackend(tf: Tf, name: TfBackendName): Promise<boolean> {
  try {
    // setBackend answers false (after a console warning) when initialisation fails.
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** The parts of a tfjs backend that the segment-sum kernel uses (wasm and cpu both have them). */
interface KernelBackend {
  readSync(dataId: object): ArrayLike<number>;
  write(values: Float32Array, shape: number[], dtype: 'float32'): object;
}

/**
 * `UnsortedSegmentSum` is the gradient of `gather`: the wasm backend has no kernel for it, and
 * the cpu backend's costs O(segments × entries). This one is a single pass, O(entries), and is
 * registered for the wasm and cpu backends (same semantics: rows with an id outside
 * [0, numSegments) are dropped).
 */
const segmentSumRegistered = new Set<TfBackendName>();

function registerSegmentSum(tf: Tf, backend: TfBackendName): void {
  if (backend === 'tensorflow') return;
  const kernelName = 'UnsortedSegmentSum';
  if (segmentSumRegistered.has(backend)) return;
  segmentSumRegistered.add(backend);
  if (tf.getKernel(kernelName, backend)) tf.unregisterKernel(kernelName, backend);
  tf.registerKernel({ kernelName, backendName: backend, kernelFunc: unsortedSegmentSum as never });
}

function unsortedSegmentSum(args: {
  inputs: { x: { dataId: object; shape: number[]; dtype: string }; segmentIds: { dataId: object } };
  backend: KernelBackend;
  attrs: { numSegments: number };
}) {
  const { x, segmentIds } = args.inputs;
  const numSegments = args.attrs.numSegments;
  if (x.dtype !== 'float32') throw new TypeError(`UnsortedSegmentSum: float32 only, got ${x.dtype}`);
  const values = args.backend.readSync(x.dataId);
  const ids = args.backend.readSync(segmentIds.dataId);
  const rows = x.shape[0] ?? 0;
  if (ids.length !== rows) throw new RangeError('UnsortedSegmentSum: one segment id per row of x only');
  const width = rows === 0 ? 0 : values.length / rows;
  const out = new Float32Array(numSegments * width);
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue;
    const o = s * width;
    const p = r * width;
    for (let c = 0; c < width; c++) out[o + c]! += values[p + c]!;
  }
  const shape = [numSegments, ...x.shape.slice(1)];
  return { dataId: args.backend.write(out, shape, 'float32'), shape, dtype: 'float32' };
}
