/**
 * Starts a worker thread whose entry is a TypeScript file. Each worker imports it through tsx's
 * `tsImport` (on Node 20 `--import tsx` in a worker's execArgv does not reach the worker's entry
 * module), which works under `node --import tsx`, the `shelf` command and vitest alike.
 */
import { Worker } from 'node:worker_threads';

export function startTsWorker(entry: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((api) => api.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
  return new Worker(boot, { eval: true, workerData });
}
