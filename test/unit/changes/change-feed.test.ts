import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../../../src/changes/change-feed.ts';
import type { ChangeSignal } from '../../../src/changes/change-feed.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Change, Store } from '../../../src/store/types.ts';

const log = pino({ level: 'silent' });
const items = (...itemIds: string[]): Change => ({ kind: 'items', itemIds });

/** A signal between feeds of one test, as Redis pub/sub would be between processes. */
function bus(): () => ChangeSignal {
  const listeners = new Set<(seq: number) => void>();
  return () => {
    let mine: ((seq: number) => void) | null = null;
    return {
      async announce(seq) {
        for (const l of listeners) l(seq);
      },
      async listen(onSeq) {
        mine = onSeq;
        listeners.add(onSeq);
      },
      async close() {
        if (mine) listeners.delete(mine);
      },
    };
  };
}

describe('change feed', () => {
  let dir: string;
  let stores: Store[];
  let feeds: ChangeFeed[];
  /** A process: its own connection to one store file, a feed, and what it applied. */
  const process = async (signal?: ChangeSignal, pollMs = 0) => {
    const store = await openSqliteStore(join(dir, 'shelf.sqlite'));
    stores.push(store);
    const feed = new ChangeFeed({ store, signal: signal ?? null, pollMs, log });
    feeds.push(feed);
    const applied: Change[] = [];
    feed.on(async (c) => void applied.push(...c));
    return { store, feed, applied };
  };
  const until = async (check: () => boolean, ms = 2000) => {
    const end = Date.now() + ms;
    while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-feed-'));
    stores = [];
    feeds = [];
  });
  afterEach(async () => {
    for (const f of feeds) await f.close();
    for (const s of stores) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies a change here before publish returns, and starts after what was there before', async () => {
    const a = await process();
    await a.feed.publish([items('old')]);
    expect(a.applied).toEqual([]);
    await a.feed.start();
    await a.feed.publish([items('x'), { kind: 'erased', userId: 'u1' }]);
    expect(a.applied).toEqual([items('x'), { kind: 'erased', userId: 'u1' }]);
    expect(a.feed.seq).toBe(await a.store.lastChangeSeq());
  });

  it('reaches another process through the signal, in order', async () => {
    const signal = bus();
    const [a, b] = [await process(signal()), await process(signal())];
    await a.feed.start();
    await b.feed.start();
    await a.feed.publish([items('1')]);
    await a.feed.publish([items('2'), { kind: 'version', version: 'v9' }]);
    await until(() => b.applied.length === 3);
    expect(b.applied).toEqual([items('1'), items('2'), { kind: 'version', version: 'v9' }]);
  });

  it('catches up on its poll when a message is lost (or no signal exists), across pages', async () => {
    const a = await process();
    const b = await process(undefined, 20);
    await a.feed.start();
    await b.feed.start();
    const many = Array.from({ length: 1201 }, (_, k) => items(`i${k}`));
    await a.feed.publish(many);
    await until(() => b.applied.length === 1201);
    expect(b.applied.at(-1)).toEqual(items('i1200'));
    expect(b.applied.map((c) => (c.kind === 'items' ? c.itemIds[0] : ''))).toEqual(
      many.map((c) => (c.kind === 'items' ? c.itemIds[0] : '')),
    );
  });

  it('tries again from the same change when the store did not answer', async () => {
    const a = await process();
    const b = await process();
    await a.feed.start();
    await b.feed.start();
    await a.feed.publish([items('kept')]);
    const read = b.store.changesSince.bind(b.store);
    let fail = true;
    b.store.changesSince = async (seq, limit) => {
      if (fail) throw new Error('connection lost');
      return read(seq, limit);
    };
    await b.feed.catchUp();
    expect(b.applied).toEqual([]);
    fail = false;
    await b.feed.catchUp();
    expect(b.applied).toEqual([items('kept')]);
  });

  it('deletes changes older than its retention at start, keeping the newest', async () => {
    const a = await process();
    await a.feed.start();
    await a.feed.publish([items('x')]);
    await a.feed.publish([items('y')]);
    const newest = await a.store.lastChangeSeq();
    const store = await openSqliteStore(join(dir, 'shelf.sqlite'));
    stores.push(store);
    // A day later, with a retention of an hour: both are old, the newest stays.
    const later = new ChangeFeed({
      store,
      pollMs: 0,
      log,
      retainMs: 3_600_000,
      now: () => Date.now() + 86_400_000,
    });
    feeds.push(later);
    await later.start();
    expect((await store.changesSince(0, 10)).map((c) => c.seq)).toEqual([newest]);
    expect(later.seq).toBe(newest);
  });
});
