/**
 * A worker thread that opens (and so migrates) a SQLite store when told: for tests of several
 * processes opening one fresh file at once. Answers once loaded (ts-worker.ts
 * `startLoadedWorker`), then `{ ok }` or the failure.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { replyError } from '../../models/ts-worker.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';

const { file } = workerData as { file: string };
parentPort!.on('message', () => {
  openSqliteStore(file)
    .then((store) => store.close())
    .then(
      () => parentPort!.postMessage({ ok: true, value: null }),
      (err: unknown) => parentPort!.postMessage(replyError(err)),
    );
});
parentPort!.postMessage({ ok: true, value: null });
