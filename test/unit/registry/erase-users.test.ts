import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesOf, float32From, int32From } from '../../../models/typed-bytes.ts';
import { eraseFromVersions, withoutUsers } from '../../../src/registry/erase-users.ts';
import type { NewVersion } from '../../../src/registry/model-registry.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES as F } from '../../../src/registry/version-files.ts';

const meta: NewVersion = {
  kind: 'als',
  params: { factors: 2 },
  seed: 1,
  data: { from: 0, to: 1, users: 3, items: 4, interactions: 5 },
  metrics: null,
  codeVersion: 'test',
};

/** Three users with vectors and training rows (CSR): a [0, 1], b [2, 3], c [1]. */
function userFiles(users = ['a', 'b', 'c']): Record<string, Uint8Array> {
  return {
    [F.users]: Buffer.from(JSON.stringify(users)),
    [F.userFactors]: bytesOf(new Float32Array([1, 2, 3, 4, 5, 6])),
    [F.userItemsIndptr]: bytesOf(new Int32Array([0, 2, 4, 5])),
    [F.userItemsIndices]: bytesOf(new Int32Array([0, 1, 2, 3, 1])),
    [F.userItemsValues]: bytesOf(new Float32Array([1, 0.5, 2, 1, 3])),
    [F.itemFactors]: bytesOf(new Float32Array(8).fill(1)),
  };
}

const usersOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8')) as string[];

describe('erasing users from model versions', () => {
  let dir: string;
  let registry: ModelRegistry;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-erase-'));
    registry = new ModelRegistry(join(dir, 'models'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("blanks an erased user's id, zeroes their vector and empties their training row, the others' kept", () => {
    const out = withoutUsers(userFiles(), new Set(['b', 'nobody']))!;
    expect(usersOf(out[F.users]!)).toEqual(['a', '', 'c']);
    expect(float32From(out[F.userFactors]!)).toEqual(new Float32Array([1, 2, 0, 0, 5, 6]));
    expect(int32From(out[F.userItemsIndptr]!)).toEqual(new Int32Array([0, 2, 2, 3]));
    expect(int32From(out[F.userItemsIndices]!)).toEqual(new Int32Array([0, 1, 1]));
    expect(float32From(out[F.userItemsValues]!)).toEqual(new Float32Array([1, 0.5, 3]));
    // Item files are not the users': untouched, not returned.
    expect(out[F.itemFactors]).toBeUndefined();
    expect(withoutUsers(userFiles(), new Set(['nobody']))).toBeNull();
  });

  it('finds an id whole, whatever its characters, and however many are erased at once', () => {
    const users = ['a"b', 'é', 'c\\d', 'plain', 'x'];
    const erase = (ids: string[]) => {
      const out = withoutUsers(userFiles(users), new Set(ids));
      return out && usersOf(out[F.users]!);
    };
    // Ids JSON escapes, or that a byte search could misread: the parse decides.
    expect(erase(['a"b'])).toEqual(['', 'é', 'c\\d', 'plain', 'x']);
    expect(erase(['é'])).toEqual(['a"b', '', 'c\\d', 'plain', 'x']);
    expect(erase(['c\\d'])).toEqual(['a"b', 'é', '', 'plain', 'x']);
    // A plain id is found only as a whole entry, not inside another one.
    expect(erase(['lain'])).toBeNull();
    expect(erase(['plai', 'b'])).toBeNull();
    expect(erase(['plain'])).toEqual(['a"b', 'é', 'c\\d', '', 'x']);
    // More ids than are searched for as bytes: parsed, the same answer.
    const many = Array.from({ length: 40 }, (_, i) => `nobody-${i}`);
    expect(erase([...many, 'x'])).toEqual(['a"b', 'é', 'c\\d', 'plain', '']);
    expect(erase(many)).toBeNull();
  });

  it('rewrites every stored version naming an erased user, readable back against its manifest, and only those', async () => {
    const named = await registry.create(meta, userFiles(), new Date(Date.UTC(2026, 0, 1)));
    const other = await registry.create(meta, userFiles(['x', 'y', 'z']), new Date(Date.UTC(2026, 0, 2)));
    const before = await readFile(join(registry.dir, other.version, 'manifest.json'), 'utf8');
    expect(await eraseFromVersions(registry, new Set(['a', 'c']))).toEqual([named.version]);
    expect(usersOf(await registry.file(named.version, F.users))).toEqual(['', 'b', '']);
    expect(float32From(await registry.file(named.version, F.userFactors))).toEqual(
      new Float32Array([0, 0, 3, 4, 0, 0]),
    );
    expect(int32From(await registry.file(named.version, F.userItemsIndices))).toEqual(new Int32Array([2, 3]));
    // Nothing of theirs is left in any file of the version.
    for (const name of Object.keys((await registry.manifest(named.version)).files)) {
      const text = (await readFile(join(registry.dir, named.version, name))).toString('latin1');
      expect(text).not.toMatch(/"a"|"c"/);
    }
    expect(await readFile(join(registry.dir, other.version, 'manifest.json'), 'utf8')).toBe(before);
    // Idempotent: done already, nothing rewritten.
    expect(await eraseFromVersions(registry, new Set(['a', 'c']))).toEqual([]);
  });

  it('takes turns: two erasures at once each keep the other one', async () => {
    const v = await registry.create(meta, userFiles());
    await Promise.all([
      eraseFromVersions(registry, new Set(['a'])),
      eraseFromVersions(registry, new Set(['c'])),
    ]);
    expect(usersOf(await registry.file(v.version, F.users))).toEqual(['', 'b', '']);
  });
});
