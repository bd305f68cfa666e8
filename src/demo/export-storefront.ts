/**
 * Writes a generated storefront to a folder (items.jsonl, users.jsonl, events.jsonl,
 * planted.json) and/or stores it through a `Store`, in one pass over the events so they are
 * generated once. Files are written under a temporary name and renamed when complete.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventType, Store } from '../store/types.ts';
import type { Storefront } from './generate-storefront.ts';
import { eventRecord, itemRecord, toJsonl, userRecord } from './json-records.ts';
import { PLANTED_FILE } from './planted.ts';

export const DEMO_FILES = {
  items: 'items.jsonl',
  users: 'users.jsonl',
  events: 'events.jsonl',
  planted: PLANTED_FILE,
} as const;

export interface ExportProgress {
  phase: 'items' | 'users' | 'events';
  done: number;
  /** Exact for items and users; the estimate for events. */
  total: number;
}

export interface ExportOptions {
  /** Folder to write into (created if missing); omitted → no files at all. */
  dir?: string;
  /** Write the three JSONL files; planted.json is written whenever `dir` is set. @defaultValue true */
  jsonl?: boolean;
  /** Store to upsert items and users into and insert events into. */
  store?: Store;
  /** Items or users per store call (events go in the storefront's batches). @defaultValue 5000 */
  importBatchSize?: number;
  onProgress?: (progress: ExportProgress) => void;
}

export interface ExportSummary {
  items: number;
  users: number;
  events: number;
  eventsByType: Partial<Record<EventType, number>>;
  /** Epoch ms of the first and last event; null without events. */
  firstEventAt: number | null;
  lastEventAt: number | null;
  /** Files written, absolute or as given. */
  files: string[];
  imported?: { items: number; users: number; events: number; duplicates: number };
}

class JsonlFile {
  readonly tmp: string;
  private readonly stream: WriteStream;

  constructor(readonly file: string) {
    this.tmp = `${file}.tmp`;
    this.stream = createWriteStream(this.tmp, { encoding: 'utf8' });
  }

  async write(chunk: string): Promise<void> {
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
    await rename(this.tmp, this.file);
  }

  /** Abandons a half-written file. */
  async discard(): Promise<void> {
    this.stream.destroy();
    await rm(this.tmp, { force: true });
  }
}

/** Writes and/or imports the whole storefront; returns what was produced. */
export async function exportStorefront(
  storefront: Storefront,
  options: ExportOptions = {},
): Promise<ExportSummary> {
  const { dir, store, onProgress } = options;
  const jsonl = dir !== undefined && options.jsonl !== false;
  const batchSize = options.importBatchSize ?? 5000;
  const { items, users } = storefront;
  const summary: ExportSummary = {
    items: items.length,
    users: users.length,
    events: 0,
    eventsByType: {},
    firstEventAt: null,
    lastEventAt: null,
    files: [],
  };
  const imported = { items: 0, users: 0, events: 0, duplicates: 0 };
  if (dir !== undefined) await mkdir(dir, { recursive: true });

  const open: JsonlFile[] = [];
  try {
    if (jsonl) {
      for (const [name, list, toRecord] of [
        [DEMO_FILES.items, items, itemRecord],
        [DEMO_FILES.users, users, userRecord],
      ] as const) {
        const f = new JsonlFile(join(dir!, name));
        open.push(f);
        // Chunked so that large catalogues never build one huge string.
        for (let k = 0; k < list.length; k += batchSize) {
          await f.write(
            toJsonl(list.slice(k, k + batchSize), toRecord as (r: unknown) => Record<string, unknown>),
          );
        }
        await f.close();
        open.pop();
        summary.files.push(f.file);
      }
    }
    if (store) {
      for (let k = 0; k < items.length; k += batchSize) {
        imported.items += (await store.upsertItems(items.slice(k, k + batchSize))).written;
        onProgress?.({ phase: 'items', done: Math.min(items.length, k + batchSize), total: items.length });
      }
      for (let k = 0; k < users.length; k += batchSize) {
        imported.users += (await store.upsertUsers(users.slice(k, k + batchSize))).written;
        onProgress?.({ phase: 'users', done: Math.min(users.length, k + batchSize), total: users.length });
      }
    }

    const eventsFile = jsonl ? new JsonlFile(join(dir!, DEMO_FILES.events)) : null;
    if (eventsFile) open.push(eventsFile);
    const byType = summary.eventsByType;
    for (const batch of storefront.events()) {
      for (const e of batch) byType[e.type] = (byType[e.type] ?? 0) + 1;
      if (batch.length > 0) {
        summary.firstEventAt ??= batch[0]!.timestamp;
        summary.lastEventAt = batch[batch.length - 1]!.timestamp;
      }
      summary.events += batch.length;
      if (eventsFile) await eventsFile.write(toJsonl(batch, eventRecord));
      if (store) {
        const result = await store.insertEvents(batch);
        imported.events += result.stored;
        imported.duplicates += result.duplicates;
      }
      onProgress?.({
        phase: 'events',
        done: summary.events,
        total: Math.max(summary.events, storefront.estimatedEvents),
      });
    }
    if (eventsFile) {
      await eventsFile.close();
      open.pop();
      summary.files.push(eventsFile.file);
    }
  } finally {
    for (const f of open) await f.discard();
  }

  if (dir !== undefined) {
    const file = join(dir, DEMO_FILES.planted);
    await writeFile(`${file}.tmp`, JSON.stringify(storefront.planted, null, 2) + '\n');
    await rename(`${file}.tmp`, file);
    summary.files.push(file);
  }
  if (store) summary.imported = imported;
  return summary;
}
