/**
 * Worker thread of {@link ThreadShardTransport}: opens the shard store at the root it is given
 * once (workerData), then runs one shard per message (`runAlsShard`, the code a BullMQ shard
 * worker runs) and answers `{ ok, value }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { replyError } from '../models/ts-worker.ts';
import type { WorkerReply } from '../models/ts-worker.ts';
import { AlsShardStore } from './als-shard-store.ts';
import { AlsShardCache, checkShardSpec, runAlsShard } from './als-shard-job.ts';

if (!parentPort) throw new Error('als-shard-thread.ts must run in a worker thread');
const port = parentPort;
const store = new AlsShardStore((workerData as { root: string }).root);
// The half-step's Y, B and Z, read and copied once for all the shards of it this thread takes.
const cache = new AlsShardCache();

/** An idle thread lets go of the half-step's memory (hundreds of MB on a large fit). */
const IDLE_MS = 30_000;
let idle: NodeJS.Timeout | undefined;

port.on('message', (spec: unknown) => {
  clearTimeout(idle);
  runAlsShard(store, checkShardSpec(spec), cache).then(
    (value) => {
      idle = setTimeout(() => cache.clear(), IDLE_MS).unref();
      port.postMessage({ ok: true, value } satisfies WorkerReply<number>);
    },
    (err: unknown) => port.postMessage(replyError(err)),
  );
});
