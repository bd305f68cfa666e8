import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewVersion } from '../../../src/registry/model-registry.ts';
import { NotFoundError, RegistryError } from '../../../src/errors.ts';
import { ModelRegistry, parseManifest } from '../../../src/registry/model-registry.ts';

const meta: NewVersion = {
  kind: 'als',
  params: { factors: 8 },
  seed: 7,
  data: { from: 0, to: 10, users: 2, items: 3, interactions: 4 },
  metrics: { 'recall@20': 0.5, 'ndcg@20': 0.25, 'coverage@20': 1, testUsers: 2, split: { kind: 'temporal' } },
  codeVersion: 'test',
};

describe('ModelRegistry', () => {
  let dir: string;
  let reg: ModelRegistry;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-reg-'));
    reg = new ModelRegistry(join(dir, 'models'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates versions with hashed files, readable back, not current until promoted', async () => {
    const bytes = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const m = await reg.create(
      meta,
      { 'item-factors.f32': bytes },
      new Date(Date.UTC(2026, 10, 25, 9, 1, 2, 3)),
    );
    expect(m.version).toBe('v20261125-090102-003');
    expect(await reg.versions()).toEqual([m.version]);
    expect(await reg.current()).toBeNull();
    expect(new Float32Array((await reg.file(m.version, 'item-factors.f32')).buffer.slice(0))).toEqual(
      new Float32Array([1, 2, 3]),
    );
    expect(await reg.manifest(m.version)).toEqual(m);
  });

  it('gives distinct names to versions created in the same millisecond', async () => {
    const now = new Date(Date.UTC(2026, 0, 1));
    const a = await reg.create(meta, {}, now);
    const b = await reg.create(meta, {}, now);
    expect(a.version).not.toBe(b.version);
  });

  it('promotes and rolls back by moving only the pointer', async () => {
    const a = await reg.create(meta, {}, new Date(Date.UTC(2026, 0, 1)));
    const b = await reg.create(meta, {}, new Date(Date.UTC(2026, 0, 2)));
    await expect(reg.rollback()).rejects.toThrow(RegistryError);
    await reg.promote(a.version);
    await expect(reg.rollback()).rejects.toThrow(/no version before/);
    await reg.promote(b.version, 'better');
    expect(await reg.current()).toBe(b.version);
    expect(await reg.rollback('worse in production')).toBe(a.version);
    expect(await reg.current()).toBe(a.version);
    expect(await reg.versions()).toEqual([a.version, b.version]);
    expect((await reg.history()).map((h) => [h.action, h.version, h.previous])).toEqual([
      ['promote', a.version, null],
      ['promote', b.version, a.version],
      ['rollback', a.version, b.version],
    ]);
    // Seen with Online Retail: a second rollback put back the version the first one left.
    await expect(reg.rollback()).rejects.toThrow(/no version before/);
    expect(await reg.current()).toBe(a.version);
  });

  it('rolls back promotions one by one, past an earlier rollback', async () => {
    const [a, b, c, d] = await Promise.all(
      [1, 2, 3, 4].map((day) => reg.create(meta, {}, new Date(Date.UTC(2026, 0, day)))),
    );
    for (const v of [a, b, c]) await reg.promote(v!.version);
    expect(await reg.rollback()).toBe(b!.version);
    await reg.promote(d!.version);
    expect(await reg.rollback()).toBe(b!.version);
    expect(await reg.rollback()).toBe(a!.version);
    await expect(reg.rollback()).rejects.toThrow(/no version before/);
  });

  it('prunes to the newest versions, but keeps the current one, its rollback and the protected', async () => {
    const [a, b, c, d, e, f] = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(
        async (day) => (await reg.create(meta, {}, new Date(Date.UTC(2026, 0, day)))).version,
      ),
    );
    await reg.promote(a!);
    await reg.promote(c!);
    // Left by a removal that died half-way: cleared by the next.
    await mkdir(join(dir, 'models', `.removed-${b}`));
    expect(await reg.prune(0, [])).toEqual([]);
    // Newest 2 (e, f), the current one (c), its rollback (a), the protected (b).
    expect(await reg.prune(2, [b!])).toEqual([d]);
    expect(await reg.versions()).toEqual([a, b, c, e, f]);
    expect((await readdir(join(dir, 'models'))).filter((n) => n.startsWith('.'))).toEqual([]);
    await expect(reg.manifest(d!)).rejects.toThrow(NotFoundError);
    expect(await reg.prune(1, [])).toEqual([b, e]);
    expect(await reg.versions()).toEqual([a, c, f]);
    // A rollback past a removed version says so.
    await reg.promote(f!);
    expect(await reg.prune(1, [])).toEqual([a]);
    expect(await reg.rollback()).toBe(c);
    await expect(reg.rollback()).rejects.toThrow(
      `the version before ${c}, ${a}, is no longer in the models dir`,
    );
  });

  it('refuses unknown versions, bad names and corrupt files', async () => {
    await expect(reg.promote('v20990101-000000-000')).rejects.toThrow(
      'model version "v20990101-000000-000" not found',
    );
    await expect(reg.manifest('../etc')).rejects.toThrow(/not a version name/);
    const m = await reg.create(meta, { 'x.bin': new Uint8Array([1, 2]) });
    await writeFile(join(reg.dir, m.version, 'x.bin'), new Uint8Array([1, 3]));
    await expect(reg.file(m.version, 'x.bin')).rejects.toThrow(/does not match its manifest/);
    await expect(reg.create(meta, { '../evil': new Uint8Array() })).rejects.toThrow(RangeError);
  });

  it('validates manifests instead of trusting them', async () => {
    const m = await reg.create(meta, {});
    const text = await readFile(join(reg.dir, m.version, 'manifest.json'), 'utf8');
    expect(parseManifest(text)).toEqual(m);
    const edit = (patch: object) => JSON.stringify({ ...JSON.parse(text), ...patch });
    expect(() => parseManifest(edit({ schemaVersion: 99 }))).toThrow(/schemaVersion 99/);
    expect(() => parseManifest(edit({ data: { users: 1 } }))).toThrow(/data counts/);
    expect(() => parseManifest(edit({ metrics: { ndcg: 1 } }))).toThrow(/metrics/);
    expect(() => parseManifest('{oops')).toThrow(/not valid JSON/);
    expect(() => parseManifest(text, 'v20000101-000000-000')).toThrow(/names version/);
  });
});
