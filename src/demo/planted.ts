/**
 * The planted truth of a generated storefront (`planted.json`): each user's favourite
 * categories, brand affinity and segment, so that tests and benchmarks can check that models
 * and segmentation recover what was put in.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { SEGMENTS } from './build-shoppers.ts';
import type { Segment } from './build-shoppers.ts';
import { PATH_SEPARATOR } from './category-tree.ts';

export type { Segment } from './build-shoppers.ts';
export { SEGMENTS } from './build-shoppers.ts';

export const PLANTED_FILE = 'planted.json';
export const PLANTED_SCHEMA_VERSION = 1;

export interface PlantedUser {
  segment: Segment;
  /** Category paths at any level of the tree; the user's events mostly fall inside them. */
  favouriteCategories: string[];
  /** Brand names the user prefers within the favourite categories. */
  brandAffinity: string[];
  /** Planted share of browsing in the favourite categories (the rest explores). */
  favouriteShare: number;
  /** ISO-8601: the user's planted activity period (churning and churned users stop early). */
  activeFrom: string;
  activeUntil: string;
}

export interface PlantedTruth {
  schemaVersion: typeof PLANTED_SCHEMA_VERSION;
  generator: 'shelf-demo';
  seed: number;
  /** ISO-8601 reference time of the data set. */
  now: string;
  options: { items: number; users: number; events: number; days: number; currency: string };
  /** Every category path of the tree: departments, subcategories and leaves. */
  categories: string[];
  brands: Record<string, { specialities: string[] }>;
  segments: Record<Segment, number>;
  users: Record<string, PlantedUser>;
}

/** True when `path` is `ancestor` or lies below it (`Home > Kitchen > Mugs` is in `Home`). */
export function inCategory(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(ancestor + PATH_SEPARATOR);
}

/** True when any of an item's categories lies in any of the given categories. */
export function inAnyCategory(itemCategories: readonly string[], ancestors: readonly string[]): boolean {
  return itemCategories.some((p) => ancestors.some((a) => inCategory(p, a)));
}

function fail(reason: string): never {
  throw new InputError(`planted truth: ${reason}`);
}

/** Checks the shape of a parsed `planted.json`; throws `InputError` naming what is wrong. */
export function parsePlanted(raw: unknown): PlantedTruth {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object');
  const p = raw as Record<string, unknown>;
  if (p.schemaVersion !== PLANTED_SCHEMA_VERSION) {
    fail(`schemaVersion must be ${PLANTED_SCHEMA_VERSION}, got ${JSON.stringify(p.schemaVersion)}`);
  }
  if (typeof p.seed !== 'number') fail('seed must be a number');
  if (typeof p.now !== 'string' || Number.isNaN(Date.parse(p.now))) fail('now must be an ISO-8601 time');
  if (!Array.isArray(p.categories)) fail('categories must be a list');
  if (typeof p.users !== 'object' || p.users === null) fail('users must be an object');
  for (const [userId, u] of Object.entries(p.users as Record<string, unknown>)) {
    const user = u as Partial<PlantedUser> | null;
    if (!user || !SEGMENTS.includes(user.segment as Segment))
      fail(`users.${userId}.segment is not a segment`);
    if (!Array.isArray(user.favouriteCategories) || !Array.isArray(user.brandAffinity)) {
      fail(`users.${userId} needs favouriteCategories and brandAffinity lists`);
    }
  }
  return raw as PlantedTruth;
}

/** Reads `planted.json` from a generated folder (or the file itself). */
export async function readPlanted(dirOrFile: string): Promise<PlantedTruth> {
  let file = dirOrFile;
  let raw: unknown;
  try {
    if ((await stat(dirOrFile)).isDirectory()) file = join(dirOrFile, PLANTED_FILE);
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parsePlanted(raw);
}
