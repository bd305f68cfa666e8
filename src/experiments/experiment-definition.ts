/**
 * An experiment as asked for (`POST /v1/admin/experiments`, `shelf experiments create`): checked
 * field by field, then made a draft. The first variant is the control. The layer defaults to the
 * experiment's tiers, sorted and joined by `+`: experiments on the same tiers exclude each other
 * unless they name distinct layers, which may not share a tier while live (serving hands a
 * request one configuration).
 */
import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors.ts';
import type { FieldError } from '../errors.ts';
import { SEGMENTS } from '../segments/segments.ts';
import { TIERS } from '../serving/types.ts';
import type { Experiment, ExperimentState, ExperimentVariant, VariantConfig } from '../store/types.ts';
import { BUCKETS, shareBounds } from './assignment.ts';

export interface ExperimentInput {
  id: string;
  name: string;
  tiers: string[];
  unit: 'user' | 'session';
  layer?: string;
  traffic?: number;
  audience?: { segments?: string[] };
  variants: { name: string; share: number; config: VariantConfig }[];
}

/** Shares must sum to 1 within this (they are rounded to buckets of 1/10,000 anyway). */
const SHARE_TOLERANCE = 1e-6;
/** The sum as written, not as floating point adds it (0.6 + 0.3 is 0.8999999999999999). */
const sumReason = (sum: number) => `shares must sum to 1, they sum to ${Number(sum.toPrecision(12))}`;
/**
 * The largest blend weight a variant may set (the tiers' defaults are 0–1). Unbounded, four
 * weights of 1e308 summed to Infinity and every score of the variant's lists came out NaN.
 */
export const MAX_WEIGHT = 100;

export function defaultLayer(tiers: readonly string[]): string {
  return [...new Set(tiers)].sort().join('+');
}

/** A draft from `input`, or a ValidationError naming each bad field. */
export function draftOf(
  input: ExperimentInput,
  now: number,
  salt = randomBytes(8).toString('hex'),
): Experiment {
  const errors: FieldError[] = [];
  const bad = (field: string, reason: string) => errors.push({ field: `body/${field}`, reason });
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(input.id)) bad('id', 'must be 1–64 of A–Z a–z 0–9 _ . -');
  if (!input.tiers.length) bad('tiers', 'must name at least one tier');
  input.tiers.forEach((t, i) => {
    if (!(TIERS as readonly string[]).includes(t)) bad(`tiers/${i}`, `must be one of ${TIERS.join(', ')}`);
    else if (input.tiers.indexOf(t) < i) bad(`tiers/${i}`, `duplicates ${JSON.stringify(t)}`);
  });
  if (input.traffic !== undefined && !(input.traffic > 0 && input.traffic <= 1))
    bad('traffic', 'must lie in (0, 1]');
  const segments = input.audience?.segments;
  if (segments && !segments.length)
    bad('audience/segments', 'must name at least one segment, or be left out');
  segments?.forEach((seg, i) => {
    if (!(SEGMENTS as readonly string[]).includes(seg))
      bad(`audience/segments/${i}`, `must be one of ${SEGMENTS.join(', ')}`);
  });
  if (input.variants.length < 2) bad('variants', 'must hold a control (the first) and at least one variant');
  const names = new Set<string>();
  let sum = 0;
  input.variants.forEach((v, i) => {
    if (names.has(v.name)) bad(`variants/${i}/name`, `duplicates ${JSON.stringify(v.name)}`);
    names.add(v.name);
    if (!(v.share > 0 && v.share <= 1)) bad(`variants/${i}/share`, 'must lie in (0, 1]');
    sum += v.share;
    if (v.config.modelVersion !== undefined && !/^[A-Za-z0-9_.:-]{1,200}$/.test(v.config.modelVersion))
      bad(`variants/${i}/config/modelVersion`, 'must be a version id (A–Z a–z 0–9 _ . : -)');
    for (const [name, w] of Object.entries(v.config.weights ?? {}))
      if (!(typeof w === 'number' && w >= 0 && w <= MAX_WEIGHT))
        bad(`variants/${i}/config/weights/${name}`, `must be a number in [0, ${MAX_WEIGHT}]`);
    const r = v.config.rules;
    if (r?.mmrLambda !== undefined && !(r.mmrLambda >= 0 && r.mmrLambda <= 1))
      bad(`variants/${i}/config/rules/mmrLambda`, 'must lie in [0, 1]');
  });
  if (input.variants.length && Math.abs(sum - 1) > SHARE_TOLERANCE) bad('variants', sumReason(sum));
  else
    for (const i of emptyVariants(input.variants.map((v) => v.share))) bad(`variants/${i}/share`, NO_BUCKET);
  if (errors.length) throw new ValidationError(errors);
  const variants: ExperimentVariant[] = input.variants.map((v) => ({
    name: v.name,
    share: v.share,
    config: v.config,
  }));
  return {
    id: input.id,
    name: input.name,
    tiers: [...new Set(input.tiers)],
    unit: input.unit,
    layer: input.layer ?? defaultLayer(input.tiers),
    traffic: input.traffic ?? 1,
    ...(input.audience ? { audience: input.audience } : {}),
    variants,
    state: 'draft',
    salt,
    range: null,
    createdAt: now,
    startedAt: null,
    stoppedAt: null,
    shipped: null,
  };
}

/**
 * Checks new shares for `e`'s variants (every variant named once, each in (0, 1], summing to 1)
 * and returns them in the variants' order; a ValidationError naming each bad field otherwise.
 */
export function sharesOf(e: Experiment, input: readonly { name: string; share: number }[]): number[] {
  const errors: FieldError[] = [];
  const bad = (field: string, reason: string) => errors.push({ field: `body/${field}`, reason });
  const byName = new Map<string, number>();
  input.forEach((v, i) => {
    if (!e.variants.some((x) => x.name === v.name))
      bad(`variants/${i}/name`, `${JSON.stringify(v.name)} is not a variant of ${JSON.stringify(e.id)}`);
    else if (byName.has(v.name)) bad(`variants/${i}/name`, `duplicates ${JSON.stringify(v.name)}`);
    if (!(v.share > 0 && v.share <= 1)) bad(`variants/${i}/share`, 'must lie in (0, 1]');
    byName.set(v.name, v.share);
  });
  const missing = e.variants.filter((v) => !byName.has(v.name)).map((v) => v.name);
  if (missing.length) bad('variants', `must give every variant a share; missing ${missing.join(', ')}`);
  const sum = input.reduce((a, v) => a + v.share, 0);
  if (Math.abs(sum - 1) > SHARE_TOLERANCE) bad('variants', sumReason(sum));
  if (errors.length) throw new ValidationError(errors);
  const shares = e.variants.map((v) => byName.get(v.name)!);
  for (const k of emptyVariants(shares))
    bad(`variants/${input.findIndex((v) => v.name === e.variants[k]!.name)}/share`, NO_BUCKET);
  if (errors.length) throw new ValidationError(errors);
  return shares;
}

const NO_BUCKET = `gives the variant none of the ${BUCKETS} buckets: at least ${1 / BUCKETS}`;

/**
 * The variants whose share rounds to none of the buckets: such a variant could never be served
 * and its results would stay empty (a share of 0.00001 was accepted).
 */
function emptyVariants(shares: readonly number[]): number[] {
  const bounds = shareBounds(shares);
  return [...bounds].flatMap((hi, i) => (hi - (i === 0 ? 0 : bounds[i - 1]!) <= 0 ? [i] : []));
}

export type LifecycleAction = 'start' | 'pause' | 'stop' | 'ship' | 'unship';

/** The states each action may leave from. */
export const FROM: Record<LifecycleAction, readonly ExperimentState[]> = {
  start: ['draft', 'paused'],
  pause: ['running'],
  stop: ['running', 'paused'],
  ship: ['running', 'paused', 'stopped'],
  unship: ['shipped'],
};

/** Whether the experiment holds its slice of the layer (assigns now or will on resume). */
export function isLive(e: Experiment): boolean {
  return e.state === 'running' || e.state === 'paused';
}

/** The configuration name a variant serves under: keys the list cache, impressions and aggregates. */
export function variantConfigName(experimentId: string, variant: string): string {
  return `${experimentId}:${variant}`;
}
