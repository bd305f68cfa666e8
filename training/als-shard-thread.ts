/**
 * Worker thread of {@link ThreadShardTransport}: opens the shard store at the root it is given
 * once (workerData), then runs one shard per message (`runAlsShard`, the code a BullMQ shard
 * worker runs) and answers `{ ok, value }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AlsShardStore } from './als-shard-store.ts';
import { checkShardSpec, runAlsShard } from './als-shard-job.ts';

if (!parentPort) throw new Error('als-shard-thread.ts must run in a worker thread');
const port = parentPort;
const store = new AlsShardStore((workerData as { root: string }).root);

export type ShardThreadReply = { ok: true; value: number } | { ok: false; error: string };

port.on('message', (spec: unknown) => {
  runAlsShard(store, checkShardSpec(spec)).then(
    (value) => port.postMessage({ ok: true, value } satisfies ShardThreadReply),
    (err: unknown) =>
      port.postMessage({
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      } satisfies ShardThreadReply),
  );
});
