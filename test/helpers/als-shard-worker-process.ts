/**
 * An ALS shard worker in a process of its own, for the integration tests of sharded fits: an
 * `AlsShardWorker` configured from the environment (ALS_SHARD_REDIS_URL, ALS_SHARD_PREFIX,
 * ALS_SHARD_ROOT, ALS_SHARD_LOCK_MS; ALS_SHARD_HOLD_MS: every shard waits this long before it
 * is solved, so that a test can kill the process mid-shard). Writes one JSON line per event to
 * stdout: `{"ready":true}`, then `{"shard":"<job id>"}` as each shard starts.
 * Run with `node --import tsx test/helpers/als-shard-worker-process.ts`.
 */
import { pino } from 'pino';
import { AlsShardWorker } from '../../src/jobs/als-shard-worker.ts';

const env = process.env;
const hold = Number(env.ALS_SHARD_HOLD_MS ?? 0);
const worker = new AlsShardWorker({
  url: env.ALS_SHARD_REDIS_URL!,
  prefix: env.ALS_SHARD_PREFIX!,
  root: env.ALS_SHARD_ROOT!,
  lockMs: Number(env.ALS_SHARD_LOCK_MS ?? 30_000),
  log: pino({ level: 'warn' }, pino.destination(2)),
  onShardStart: async (_spec, job) => {
    process.stdout.write(`${JSON.stringify({ shard: job.id })}\n`);
    if (hold > 0) await new Promise((r) => setTimeout(r, hold));
  },
});
await worker.waitUntilReady();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
