/**
 * Versioned model artefacts under `<dataDir>/models/<version>/`: a validated `manifest.json`
 * beside raw files. `current` names the serving version; publishing and rollback change only
 * that pointer, written atomically (temp file + rename). `history.jsonl` records each change.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { NotFoundError, RegistryError } from '../errors.ts';
import { acquireLock } from './dir-lock.ts';
import type { LockTiming } from './dir-lock.ts';

export const MANIFEST_SCHEMA_VERSION = 1;

export interface OfflineMetrics {
  'recall@20': number;
  'ndcg@20': number;
  'coverage@20': number;
  testUsers: number;
  /** How the split was made, e.g. `{ kind: 'temporal', cutoff }`. */
  split: Record<string, unknown>;
}

export interface VersionManifest {
  schemaVersion: number;
  version: string;
  /** Model kind, e.g. `als`. */
  kind: string;
  params: Record<string, unknown>;
  seed: number;
  /** The training window (epoch ms) and counts. */
  data: { from: number | null; to: number | null; users: number; items: number; interactions: number };
  /** Files of the version, by name, with their size and sha256. */
  files: Record<string, { bytes: number; sha256: string }>;
  metrics: OfflineMetrics | null;
  createdAt: string;
  codeVersion: string;
}

export type NewVersion = Omit<VersionManifest, 'schemaVersion' | 'version' | 'files' | 'createdAt'>;

/** A file that disagrees with its manifest is read this many times, this far apart. */
const REREADS = 5;
const REREAD_MS = 50;
/** `exclusive`'s lock: how long a caller waits, how often it looks, when an unrefreshed lock is stale. */
const LOCK: LockTiming = { waitMs: 60_000, pollMs: 25, staleMs: 120_000 };

const VERSION_RE = /^v\d{8}-\d{6}-\d{3}$/;
const FILE_RE = /^[a-z0-9][a-z0-9._-]*$/;

export interface HistoryEntry {
  at: string;
  action: 'promote' | 'rollback';
  version: string;
  previous: string | null;
  reason?: string;
}

export class ModelRegistry {
  constructor(readonly dir: string) {}

  /** Writes a new version (not yet current) and returns its manifest. */
  async create(
    meta: NewVersion,
    files: Record<string, Uint8Array>,
    now = new Date(),
  ): Promise<VersionManifest> {
    await mkdir(this.dir, { recursive: true });
    let version = versionName(now);
    while ((await this.versions()).includes(version)) version = versionName(new Date(now.getTime() + 1));
    const manifest: VersionManifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      version,
      ...meta,
      files: {},
      createdAt: now.toISOString(),
    };
    const tmp = join(this.dir, `.tmp-${version}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    for (const [name, bytes] of Object.entries(files)) {
      if (!FILE_RE.test(name) || name === 'manifest.json')
        throw new RangeError(`bad artefact file name ${name}`);
      await writeFile(join(tmp, name), bytes);
      manifest.files[name] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
    }
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, join(this.dir, version));
    return manifest;
  }

  /** Version names, oldest first. */
  async versions(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((v) => VERSION_RE.test(v)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async manifest(version: string): Promise<VersionManifest> {
    this.checkName(version);
    let text: string;
    try {
      text = await readFile(join(this.dir, version, 'manifest.json'), 'utf8');
    } catch (err) {
      // Unknown is 404, as an unknown experiment is; an unreadable one is the registry's fault.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('model version', version);
      throw new RegistryError(`version ${version} cannot be read: ${(err as Error).message}`);
    }
    return parseManifest(text, version);
  }

  /** Reads one file of a version and checks it against the manifest's size and hash. */
  async file(version: string, name: string): Promise<Buffer> {
    // A rewrite (an erasure) renames the file, then the manifest: read between the two, they
    // disagree for a moment, so a mismatch is read again before it counts as corruption.
    for (let attempt = 1; ; attempt++) {
      const m = await this.manifest(version);
      const entry = m.files[name];
      if (!entry) throw new RegistryError(`version ${version} has no file ${name}`);
      const bytes = await readFile(join(this.dir, version, name));
      if (bytes.byteLength === entry.bytes && sha256(bytes) === entry.sha256) return bytes;
      if (attempt === REREADS) {
        throw new RegistryError(
          `version ${version}: ${name} does not match its manifest (corrupt or edited)`,
        );
      }
      await sleep(REREAD_MS);
    }
  }

  /**
   * Replaces files of an existing version (an erasure's): each through a temp file and a rename,
   * then the manifest with their new sizes and hashes. Callers hold `exclusive`.
   */
  async rewrite(version: string, files: Record<string, Uint8Array>): Promise<void> {
    const m = await this.manifest(version);
    const dir = join(this.dir, version);
    for (const [name, bytes] of Object.entries(files)) {
      if (!m.files[name]) throw new RegistryError(`version ${version} has no file ${name}`);
      const tmp = join(dir, `.${name}-${process.pid}`);
      await writeFile(tmp, bytes);
      await rename(tmp, join(dir, name));
      m.files[name] = { bytes: bytes.byteLength, sha256: sha256(bytes) };
    }
    const tmp = join(dir, `.manifest-${process.pid}`);
    await writeFile(tmp, JSON.stringify(m, null, 2) + '\n');
    await rename(tmp, join(dir, 'manifest.json'));
  }

  /**
   * Runs `work` while no other process (or call) sharing this models dir runs one (dir-lock.ts).
   * What a holder that died left half-written is cleared first: only a lock holder writes it.
   */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true });
    const release = await acquireLock(join(this.dir, '.lock'), LOCK);
    try {
      await this.clearLeftovers();
      return await work();
    } finally {
      await release();
    }
  }

  /**
   * A version `create` was writing (`.tmp-<version>`: a full copy of its users' vectors, which
   * no erasure rewrites) or `prune` was removing (`.removed-<version>`) when its process died.
   */
  private async clearLeftovers(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.tmp-') || name.startsWith('.removed-'))
        await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * Where a file of a version lives, for readers that map or stream it themselves (the ANN
   * index); unlike `file`, the caller checks its integrity.
   */
  async path(version: string, name: string): Promise<string> {
    const m = await this.manifest(version);
    if (!m.files[name]) throw new RegistryError(`version ${version} has no file ${name}`);
    return join(this.dir, version, name);
  }

  async current(): Promise<string | null> {
    try {
      const v = (await readFile(join(this.dir, 'current'), 'utf8')).trim();
      return VERSION_RE.test(v) ? v : null;
    } catch {
      return null;
    }
  }

  async history(): Promise<HistoryEntry[]> {
    try {
      const text = await readFile(join(this.dir, 'history.jsonl'), 'utf8');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as HistoryEntry);
    } catch {
      return [];
    }
  }

  /** Makes `version` current (after the caller's quality gate). */
  async promote(version: string, reason?: string): Promise<void> {
    await this.manifest(version);
    await this.setCurrent(version, 'promote', reason);
  }

  /**
   * Undoes the newest promotion not yet undone: the version current before it is current again.
   * Rollbacks take promotions back one by one, so a second rollback goes further back, never
   * forward to the version the first one left.
   */
  async rollback(reason?: string): Promise<string> {
    const current = await this.current();
    if (!current) throw new RegistryError('no current version to roll back from');
    const previous = rollbackTarget(await this.history(), current);
    if (!previous) throw new RegistryError(`no version before ${current} to roll back to`);
    // Its manifest read tells a removed version (retention keeps only the newest) by NotFoundError.
    await this.manifest(previous).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
      throw new RegistryError(
        `the version before ${current}, ${previous}, is no longer in the models dir (only the newest are kept)`,
      );
    });
    await this.setCurrent(previous, 'rollback', reason);
    return previous;
  }

  /**
   * Removes every version but the newest `keep`, the current one, the one a rollback from it
   * returns to, and those of `protect` (experiments' variants name them); returns the removed,
   * oldest first. Each leaves the listing at once (renamed out of it), then its files go.
   */
  async prune(keep: number, protect: Iterable<string>): Promise<string[]> {
    return this.exclusive(async () => {
      const all = await this.versions();
      // keep 0: all.slice(-0) is every version.
      const kept = new Set([...all.slice(-keep), ...protect]);
      const current = await this.current();
      if (current) {
        kept.add(current);
        const back = rollbackTarget(await this.history(), current);
        if (back) kept.add(back);
      }
      const removed = all.filter((v) => !kept.has(v));
      for (const v of removed) {
        const trash = join(this.dir, `.removed-${v}`);
        await rename(join(this.dir, v), trash);
        await rm(trash, { recursive: true, force: true });
      }
      return removed;
    });
  }

  private async setCurrent(version: string, action: HistoryEntry['action'], reason?: string): Promise<void> {
    const previous = await this.current();
    const tmp = join(this.dir, `.current-${process.pid}`);
    await writeFile(tmp, version + '\n');
    await rename(tmp, join(this.dir, 'current'));
    const entry: HistoryEntry = { at: new Date().toISOString(), action, version, previous };
    if (reason) entry.reason = reason;
    await appendFile(join(this.dir, 'history.jsonl'), JSON.stringify(entry) + '\n');
  }

  private checkName(version: string): void {
    if (!VERSION_RE.test(version))
      throw new RegistryError(`${JSON.stringify(version)} is not a version name`);
  }
}

/**
 * The version a rollback from `current` returns to: the pointer's history replayed as a stack
 * (a promotion pushes, a rollback pops), the entry below `current`. A history that does not end
 * at `current` (edited by hand) falls back to the pointer's previous value at its last move to it.
 */
function rollbackTarget(history: readonly HistoryEntry[], current: string): string | null {
  const stack: string[] = [];
  for (const e of history) {
    if (e.action === 'rollback') {
      while (stack.length && stack[stack.length - 1] !== e.version) stack.pop();
      if (!stack.length) stack.push(e.version);
    } else if (stack[stack.length - 1] !== e.version) stack.push(e.version);
  }
  if (stack[stack.length - 1] === current) return stack[stack.length - 2] ?? null;
  const last = history.map((e) => e.version).lastIndexOf(current);
  return last >= 0 ? history[last]!.previous : null;
}

function versionName(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `v${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}-${p(d.getUTCMilliseconds(), 3)}`
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Parses and validates a manifest; never evaluates it. */
export function parseManifest(text: string, expectedVersion?: string): VersionManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new RegistryError('manifest.json is not valid JSON');
  }
  const bad = (why: string) =>
    new RegistryError(`manifest${expectedVersion ? ` of ${expectedVersion}` : ''}: ${why}`);
  if (typeof m !== 'object' || m === null) throw bad('not an object');
  const o = m as Record<string, unknown>;
  if (o.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
    throw bad(
      `schemaVersion ${String(o.schemaVersion)} is not supported (expected ${MANIFEST_SCHEMA_VERSION})`,
    );
  }
  if (typeof o.version !== 'string' || !VERSION_RE.test(o.version))
    throw bad('version is missing or malformed');
  if (expectedVersion && o.version !== expectedVersion) throw bad(`names version ${o.version}`);
  if (typeof o.kind !== 'string' || !o.kind) throw bad('kind is missing');
  if (typeof o.seed !== 'number') throw bad('seed is missing');
  if (typeof o.params !== 'object' || o.params === null) throw bad('params is missing');
  const data = o.data as Record<string, unknown> | undefined;
  if (!data || !['users', 'items', 'interactions'].every((k) => Number.isInteger(data[k]))) {
    throw bad('data counts are missing');
  }
  if (typeof o.files !== 'object' || o.files === null) throw bad('files is missing');
  for (const [name, f] of Object.entries(o.files as Record<string, unknown>)) {
    const e = f as Record<string, unknown>;
    if (!FILE_RE.test(name) || !Number.isInteger(e?.bytes) || typeof e?.sha256 !== 'string') {
      throw bad(`file entry ${name} is malformed`);
    }
  }
  const metrics = o.metrics as Record<string, unknown> | null;
  if (metrics !== null && (typeof metrics !== 'object' || typeof metrics['ndcg@20'] !== 'number')) {
    throw bad('metrics must be null or hold ndcg@20');
  }
  return m as VersionManifest;
}
