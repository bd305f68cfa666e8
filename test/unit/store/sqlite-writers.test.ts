/**
 * Two writers on one SQLite file, as in `shelf start` (the serving thread and the impression
 * writer thread): events stored while another connection commits all the time must wait for the
 * write lock, never fail with "database is locked". A transaction that read (the erased-users
 * check) before it wrote used to fail at once whenever the other connection had committed since.
 * And two processes opening one fresh file at once must both open it: not both apply a migration
 * (before the check under the lock, 3 of 4 runs of that test failed: "table items already
 * exists" and the like), nor fail the switch to WAL ("database is locked", about 1 run in 8).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askWorker, startLoadedWorker } from '../../../models/ts-worker.ts';
import { isBusy, openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { ShelfEvent, Store } from '../../../src/store/types.ts';

/** Commits one small transaction after another on `file` until told to stop. */
const OTHER_WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.exec('CREATE TABLE IF NOT EXISTS other (n INTEGER)');
const insert = db.prepare('INSERT INTO other (n) VALUES (?)');
let stop = false;
let commits = 0;
parentPort.on('message', () => (stop = true));
const step = () => {
  for (let k = 0; k < 20; k++) { insert.run(k); commits++; }
  if (stop) { db.close(); parentPort.postMessage(commits); } else setImmediate(step);
};
parentPort.postMessage('started');
step();
`;

const view = (prefix: string, k: number): ShelfEvent => ({
  eventId: `${prefix}-${k}`,
  type: 'view',
  userId: `u-${k % 100}`,
  itemId: `sku-${k % 7}`,
  timestamp: 1_700_000_000_000 + k,
});

describe('SQLite with a second writer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-writers-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores every batch of events while another connection commits', async () => {
    const file = join(dir, 'shelf.sqlite');
    const store = await openSqliteStore(file);
    const other = new Worker(OTHER_WRITER, { eval: true, workerData: { file } });
    try {
      await new Promise((r) => other.once('message', r));
      let stored = 0;
      const failures: string[] = [];
      for (let b = 0; b < 300; b++) {
        const events = Array.from({ length: 20 }, (_, k): ShelfEvent => ({
          eventId: `e-${b}-${k}`,
          type: 'view',
          userId: `u-${k}`,
          itemId: `sku-${b % 7}`,
          timestamp: 1_700_000_000_000 + b * 100 + k,
        }));
        try {
          stored += (await store.insertEvents(events)).stored;
        } catch (err) {
          failures.push((err as Error).message);
        }
        // Yield so the other thread's commits land between batches.
        await new Promise((r) => setImmediate(r));
      }
      other.postMessage('stop');
      const commits = (await new Promise((r) => other.once('message', r))) as number;
      expect(failures).toEqual([]);
      expect(stored).toBe(300 * 20);
      expect(commits).toBeGreaterThan(0);
    } finally {
      await other.terminate();
      await store.close();
    }
  });

  /** The store and a plain second connection on a new file `name`, both closed after `fn`. */
  const withSecondConnection = async (
    name: string,
    fn: (store: Store, other: Database.Database) => Promise<void>,
  ) => {
    const file = join(dir, name);
    const store = await openSqliteStore(file);
    const other = new Database(file);
    try {
      await fn(store, other);
    } finally {
      other.close();
      await store.close();
    }
  };

  it('waits for a lock another connection holds without stopping the thread, and then writes', () =>
    withSecondConnection('held.sqlite', async (store, other) => {
      other.exec('BEGIN IMMEDIATE');
      let done = false;
      const insert = store.insertEvents([view('held', 0)]).finally(() => (done = true));
      // SQLite's busy handler would have slept in the call above until it failed (the lock is
      // held by this thread, which it stopped): now the thread goes on and the insert waits.
      await new Promise((r) => setTimeout(r, 30));
      expect(done).toBe(false);
      other.exec('COMMIT');
      expect((await insert).stored).toBe(1);
    }));

  it('lets a waiting connection in after a long write, before its next one', () =>
    withSecondConnection('fair.sqlite', async (store, other) => {
      // 50,000 events: far longer than the 50 ms that counts as a long hold.
      await store.insertEvents(Array.from({ length: 50_000 }, (_, k) => view('bulk', k)));
      const next = store.insertEvents([view('next', 0)]);
      // The lock is free, and the store's next write has not taken it: another connection can.
      other.exec('BEGIN IMMEDIATE');
      const stored = other.prepare("SELECT count(*) FROM events WHERE event_id = 'next-0'").pluck().get();
      other.exec('COMMIT');
      expect(stored).toBe(0);
      expect((await next).stored).toBe(1);
    }));

  it('knows the lock held elsewhere, and a log in recovery, as busy; other errors not', () => {
    const file = join(dir, 'busy.sqlite');
    const [a, b] = [new Database(file), new Database(file)];
    try {
      a.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
      a.exec('BEGIN IMMEDIATE');
      b.pragma('busy_timeout = 0');
      const held = caught(() => b.exec('BEGIN IMMEDIATE'));
      a.exec('INSERT INTO t VALUES (1)');
      a.exec('COMMIT');
      const duplicate = caught(() => a.exec('INSERT INTO t VALUES (1)'));
      expect(isBusy(held)).toBe(true);
      // Reported as its extended code when another connection recovers the log after a crash.
      expect(isBusy(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY_RECOVERY' }))).toBe(
        true,
      );
      expect(isBusy(duplicate)).toBe(false);
      expect(isBusy(new Error('no code'))).toBe(false);
    } finally {
      a.close();
      b.close();
    }
  });

  it('opens one fresh file from two threads at once: each migration applied once', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 5; round++) {
      const file = join(dir, `fresh-${round}.sqlite`);
      const entry = new URL('../../helpers/open-store-worker.ts', import.meta.url);
      const workers = await Promise.all([
        startLoadedWorker(entry, { file }),
        startLoadedWorker(entry, { file }),
      ]);
      try {
        // Told together: both read the applied migrations before either has written one.
        const opened = await Promise.allSettled(workers.map((w) => askWorker(w, 'open', 'opening')));
        for (const o of opened) if (o.status === 'rejected') failures.push(String(o.reason));
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
    }
    expect(failures).toEqual([]);
  });
});

/** What `f` threw. */
function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}
