/**
 * A version's ANN index as files, built on a worker thread (ann-index-worker.ts): hnswlib
 * builds a graph on one core, for tens of seconds at 100k items, so the train job fits,
 * encodes and tunes beside it instead of waiting.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Vectors } from '../models/matrix.ts';
import { startWorkerOn } from '../models/ts-worker.ts';
import { annIndexKind, buildAnnIndex } from '../src/index/build-ann-index.ts';
import { VERSION_FILES as F } from '../src/registry/version-files.ts';

/** The message that ends ann-index-worker.ts's build. */
export const STOP = 'stop';

/** What ann-index-worker.ts is asked. */
export interface AnnIndexTask {
  vectors: Vectors;
  seed: number;
  /** Below this many floats the index is exact (tests lower it). @defaultValue EXACT_MAX_FLOATS */
  exactMaxFloats?: number;
}

/**
 * The HNSW index files when the catalogue is large enough to need one (see buildAnnIndex);
 * `signal` ends the build at its next yield.
 */
export async function annIndexFiles(
  task: AnnIndexTask,
  signal?: AbortSignal,
): Promise<Record<string, Uint8Array>> {
  const index = await buildAnnIndex(task.vectors, { ...options(task), ...(signal ? { signal } : {}) });
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

/**
 * {@link annIndexFiles} on a worker thread of its own, started and given the task before this
 * returns (it loads and builds while the caller goes on); none is started for an exact index.
 * `signal` ends the build (a failed train job does not wait for its graphs) and the promise
 * rejects with the signal's reason. The thread is asked to stop, which it does at the build's
 * next yield (~20 ms), and only then terminated: terminated inside hnswlib's addPoint, its
 * next N-API call fails, the addon's throw fails too, and Node aborts the whole process
 * ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw").
 */
export async function annIndexFilesOnThread(
  task: AnnIndexTask,
  signal?: AbortSignal,
): Promise<Record<string, Uint8Array>> {
  if (annIndexKind(task.vectors, options(task)) !== 'hnsw') return {};
  signal?.throwIfAborted();
  const entry = new URL('./ann-index-worker.ts', import.meta.url);
  const { worker, reply } = startWorkerOn<Record<string, Uint8Array>>(entry, task, 'ANN index worker');
  const stop = () => worker.postMessage(STOP);
  signal?.addEventListener('abort', stop, { once: true });
  // Answered, the thread is out of hnswlib: an exit may then end it.
  const thread = {
    stop,
    out: reply.then(
      () => {},
      () => {},
    ),
  };
  threads.add(thread);
  try {
    const files = await reply;
    signal?.throwIfAborted(); // stopped while it saved
    return files;
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
    await worker.terminate();
    threads.delete(thread);
  }
}

/** The graph threads of this process, each with what stops it and when it is out of hnswlib. */
const threads = new Set<{ stop: () => void; out: Promise<void> }>();

/**
 * Stops every graph build of this process and resolves once their threads are out of hnswlib:
 * what a process exiting mid-job does first (its parent gone: cli/exit-with-parent.ts). Exiting
 * ends its threads where they are, and one ended inside addPoint aborted the whole process
 * (FATAL ERROR … napi_throw, killed by SIGABRT) instead of its exiting with its code.
 */
export async function endGraphBuilds(): Promise<void> {
  const live = [...threads];
  for (const t of live) t.stop();
  await Promise.all(live.map((t) => t.out));
}

/**
 * The graph builds of one train job: ended together when the job ends without them (it failed),
 * and waited for, so that the job's process never exits while a thread is inside hnswlib.
 */
export class GraphBuilds {
  private readonly stop = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  /** {@link annIndexFilesOnThread}, ended by {@link end}. */
  build(task: AnnIndexTask): Promise<Record<string, Uint8Array>> {
    const built = annIndexFilesOnThread(task, this.stop.signal);
    this.running.add(built);
    void built.then(
      () => this.running.delete(built),
      () => this.running.delete(built),
    );
    return built;
  }

  /** Ends the builds still running; resolves once their threads have stopped. */
  async end(reason: Error): Promise<void> {
    this.stop.abort(reason);
    await Promise.allSettled(this.running);
  }
}
