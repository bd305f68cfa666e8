/**
 * Who checkpoints SQLite's write-ahead log (`WalCheckpoints`): a connection told never to at a
 * commit lets the log grow with every write; one told to every few milliseconds keeps it to
 * about what was written in between (the writer thread's arrangement, impression-thread.ts).
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { WalCheckpoints } from '../../../src/store/sqlite-store.ts';
import type { StoredImpression } from '../../../src/store/types.ts';

const itemIds = Array.from({ length: 20 }, (_, i) => `sku-${i}`);

/** The log's size after 12 batches of 500 lists written 40 ms apart under `checkpoints`. */
async function walAfterWrites(file: string, checkpoints: WalCheckpoints): Promise<number> {
  const store = await openSqliteStore(file, checkpoints);
  try {
    for (let b = 0; b < 12; b++) {
      const batch = Array.from({ length: 500 }, (_, k): StoredImpression => ({
        recommendationId: `r-${b}-${k}`,
        tier: 'personalized',
        userId: `u-${(b * 7919 + k * 104_729) % 5000}`,
        config: 'default',
        probability: 1,
        modelVersion: 'v1',
        itemIds,
        timestamp: 1_700_000_000_000 + b * 1000 + k,
      }));
      await store.insertImpressions(batch);
      await new Promise((r) => setTimeout(r, 40));
    }
    return statSync(`${file}-wal`).size;
  } finally {
    await store.close();
  }
}

describe('SQLite write-ahead log checkpoints', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-wal-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('grows the log without checkpoints at commits, and keeps it short with a timer', async () => {
    const never = await walAfterWrites(join(dir, 'never.sqlite'), { autoMb: 0 });
    const timed = await walAfterWrites(join(dir, 'timed.sqlite'), { autoMb: 0, everyMs: 10 });
    // 6,000 lists of about 400 bytes, and their index entries: megabytes of log.
    expect(never).toBeGreaterThan(2 * 2 ** 20);
    expect(timed, JSON.stringify({ never, timed })).toBeLessThan(never / 3);
  });
});
