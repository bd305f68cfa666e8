/**
 * The sharded ALS fit on one machine: shards run over a pool of worker threads, each free
 * thread taking the next shard, through the same store files and `runAlsShard` as BullMQ
 * workers. A thread that dies (it cannot be killed alone, but it can crash) is replaced and its
 * shard run again, up to `attempts` times.
 */
import type { Worker } from 'node:worker_threads';
import { askWorker, startTsWorker } from '../models/ts-worker.ts';
import type { AlsShardSpec } from './als-shard-job.ts';
import type { AlsShardTransport } from './sharded-als-solver.ts';

export interface ThreadShardTransportOptions {
  /** The shard store's root (as the coordinator's). */
  root: string;
  threads: number;
  /** Tries per shard before the half-step fails. @defaultValue 2 */
  attempts?: number;
  /** The threads' script (tests wrap als-shard-thread.ts in one that crashes). @defaultValue als-shard-thread.ts */
  entry?: URL;
}

const ENTRY = new URL('./als-shard-thread.ts', import.meta.url);

export class ThreadShardTransport implements AlsShardTransport {
  private readonly workers: (Worker | null)[];
  private readonly busy: boolean[];
  private readonly attempts: number;

  constructor(private readonly o: ThreadShardTransportOptions) {
    if (!Number.isInteger(o.threads) || o.threads < 1) throw new RangeError('threads must be >= 1');
    this.attempts = o.attempts ?? 2;
    this.workers = Array.from({ length: o.threads }, () => null);
    this.busy = this.workers.map(() => false);
  }

  get parallelism(): number {
    return this.o.threads;
  }

  /** Runs the shards, each on the next free thread; retried on a thread's death or failure. */
  async run(specs: readonly AlsShardSpec[]): Promise<void> {
    const queue = specs.map((spec) => ({ spec, tries: 0 }));
    let failure: Error | null = null;
    const lane = async () => {
      for (let next = queue.shift(); next && !failure; next = queue.shift()) {
        try {
          next.tries++;
          await this.runOne(next.spec);
        } catch (err) {
          if (next.tries < this.attempts) queue.push(next);
          else failure ??= err instanceof Error ? err : new Error(String(err));
        }
      }
    };
    await Promise.all(this.workers.map(() => lane()));
    if (failure) throw failure;
  }

  /**
   * Runs one shard on a free thread (a BullMQ shard worker's processor, at a concurrency of at
   * most `threads`): its row count. Throws when every thread is busy.
   */
  async runOne(spec: AlsShardSpec): Promise<number> {
    const slot = this.busy.indexOf(false);
    if (slot < 0) throw new Error('every ALS shard thread is busy');
    this.busy[slot] = true;
    try {
      return await this.send(slot, spec);
    } finally {
      this.busy[slot] = false;
    }
  }

  private worker(slot: number): Worker {
    let w = this.workers[slot];
    if (!w) {
      w = startTsWorker(this.o.entry ?? ENTRY, { root: this.o.root });
      this.workers[slot] = w;
    }
    return w;
  }

  private send(slot: number, spec: AlsShardSpec): Promise<number> {
    const worker = this.worker(slot);
    // A thread lost (an error or an exit) is replaced on the slot's next shard.
    return askWorker<number>(worker, spec, 'ALS shard', () => {
      this.workers[slot] = null;
      void worker.terminate();
    });
  }

  async close(): Promise<void> {
    const live = this.workers.filter((w): w is Worker => w !== null);
    this.workers.fill(null);
    await Promise.all(live.map((w) => w.terminate()));
  }
}
