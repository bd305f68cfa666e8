/**
 * Worker threads whose entry is a TypeScript file, and the one-reply exchange every Shelf
 * worker speaks: a message in, `{ ok: true, value }` or `{ ok: false, error }` back.
 *
 * Each worker imports its entry through tsx's `tsImport` (on Node 20 `--import tsx` in a
 * worker's execArgv does not reach the worker's entry module), which works under
 * `node --import tsx`, the `shelf` command and vitest alike.
 */
import { Worker } from 'node:worker_threads';

export function startTsWorker(entry: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((api) => api.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * A worker started with {@link startTsWorker} once it has loaded its entry, which answers
 * `{ ok: true, value: null }` when it has (see ridge-worker.ts).
 */
export async function startLoadedWorker(entry: URL, workerData?: unknown): Promise<Worker> {
  const worker = startTsWorker(entry, workerData);
  try {
    await askWorker<null>(worker, undefined, `worker ${entry.pathname.split('/').pop()}`);
  } catch (err) {
    // A worker that failed to load says why, then throws: its 'error' event may come after the
    // reply, with no listener left, and end this process as an uncaught error. Already told.
    worker.on('error', () => {});
    await worker.terminate();
    throw err;
  }
  return worker;
}

/**
 * A worker that announces its loading as {@link startLoadedWorker} expects, started and given
 * `task` at once: it loads (~0.25 s) and works beside this thread, even while this thread
 * computes, where awaiting its loading first would leave both idle meanwhile. `reply` is the
 * answer to `task`; the caller terminates `worker`.
 */
export function startWorkerOn<T>(
  entry: URL,
  task: unknown,
  what: string,
): { worker: Worker; reply: Promise<T> } {
  const worker = startTsWorker(entry, undefined);
  // Held in the worker's port until its entry listens. Its two answers (loaded, then the reply)
  // may arrive in one turn of this thread's loop: one listener takes both.
  const reply = askWorker<T>(worker, task, what, undefined, 1);
  return { worker, reply };
}

export type WorkerReply<T> = { ok: true; value: T } | { ok: false; error: string };

/** A failure as a reply's `error`: the stack when there is one. */
export function replyError(err: unknown): WorkerReply<never> {
  return { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

/**
 * Posts `message` to `worker` (none: the worker answers of its own accord) and resolves with
 * its reply's value, after `skip` successful answers (a worker's announcement that it has
 * loaded); rejects with `${what} failed: …` when it answers a failure, or with the error or
 * exit that lost the worker, after calling `onLost`.
 */
export function askWorker<T>(
  worker: Worker,
  message: unknown,
  what: string,
  onLost?: () => void,
  skip = 0,
): Promise<T> {
  let skipped = 0;
  return new Promise<T>((resolve, reject) => {
    const onMessage = (reply: WorkerReply<T>) => {
      if (reply.ok && skipped < skip) {
        skipped++;
        return;
      }
      cleanup();
      if (reply.ok) resolve(reply.value);
      else reject(new Error(`${what} failed: ${reply.error}`));
    };
    const onError = (err: Error) => {
      cleanup();
      onLost?.();
      reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      onLost?.();
      reject(new Error(`${what} exited with code ${code}`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    if (message !== undefined) worker.postMessage(message);
  });
}
