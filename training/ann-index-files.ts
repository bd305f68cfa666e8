/**
 * A version's ANN index as files, built on a worker thread (ann-index-worker.ts): hnswlib
 * builds a graph on one core, for tens of seconds at 100k items, so the train job fits,
 * encodes and tunes beside it instead of waiting.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Vectors } from '../models/matrix.ts';
import { askWorker, startLoadedWorker } from '../models/ts-worker.ts';
import { annIndexKind, buildAnnIndex } from '../src/index/build-ann-index.ts';
import { VERSION_FILES as F } from '../src/registry/version-files.ts';

/** What ann-index-worker.ts is asked. */
export interface AnnIndexTask {
  vectors: Vectors;
  seed: number;
  /** Below this many floats the index is exact (tests lower it). @defaultValue EXACT_MAX_FLOATS */
  exactMaxFloats?: number;
}

/** The HNSW index files when the catalogue is large enough to need one (see buildAnnIndex). */
export async function annIndexFiles(task: AnnIndexTask): Promise<Record<string, Uint8Array>> {
  const index = await buildAnnIndex(task.vectors, options(task));
  if (index.kind !== 'hnsw') return {};
  const dir = await mkdtemp(join(tmpdir(), 'shelf-index-'));
  try {
    const out: Record<string, Uint8Array> = {};
    for (const file of await index.save(join(dir, F.annIndex))) out[basename(file)] = await readFile(file);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const options = (t: AnnIndexTask) => ({
  seed: t.seed,
  ...(t.exactMaxFloats === undefined ? {} : { exactMaxFloats: t.exactMaxFloats }),
});

/** An index build under way on its worker thread. */
export interface AnnIndexBuild {
  /** The index files, once built; rejects with the signal's reason if it aborts. */
  files: Promise<Record<string, Uint8Array>>;
}

/**
 * Starts {@link annIndexFiles} on a worker thread of its own (none for an exact index) and
 * resolves once the thread has loaded and holds the task: a thread loads through this thread's
 * event loop (ts-worker.ts), so the caller may go on with synchronous work without holding the
 * build back. `signal` ends the build: the thread is terminated (a failed train job does not
 * wait for its graphs) and `files` rejects with the signal's reason.
 */
export async function startAnnIndexBuild(task: AnnIndexTask, signal?: AbortSignal): Promise<AnnIndexBuild> {
  if (annIndexKind(task.vectors, options(task)) !== 'hnsw') return { files: Promise.resolve({}) };
  signal?.throwIfAborted();
  const worker = await startLoadedWorker(new URL('./ann-index-worker.ts', import.meta.url));
  const stop = () => void worker.terminate();
  signal?.addEventListener('abort', stop, { once: true });
  const built = async () => {
    try {
      signal?.throwIfAborted(); // while the thread loaded
      return await askWorker<Record<string, Uint8Array>>(worker, task, 'ANN index worker');
    } catch (err) {
      signal?.throwIfAborted();
      throw err;
    } finally {
      signal?.removeEventListener('abort', stop);
      await worker.terminate();
    }
  };
  const files = built();
  // Handled here too: a caller that fails before awaiting it must not crash the process.
  files.catch(() => {});
  return { files };
}
