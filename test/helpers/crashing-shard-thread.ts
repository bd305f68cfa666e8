/**
 * An ALS shard thread (training/als-shard-thread.ts) of which exactly one, among all started
 * with the same SHELF_TEST_CRASH_MARKER, dies on its first shard: the first to create the
 * marker file exits while the real handler has just started the shard, as a thread that
 * crashed mid-shard.
 */
import '../../training/als-shard-thread.ts';
import { writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const marker = process.env.SHELF_TEST_CRASH_MARKER;
if (!marker) throw new Error('SHELF_TEST_CRASH_MARKER is not set');
parentPort!.once('message', () => {
  try {
    writeFileSync(marker, String(process.pid), { flag: 'wx' });
  } catch {
    return; // another thread crashed already: this one runs its shards
  }
  process.exit(1);
});
