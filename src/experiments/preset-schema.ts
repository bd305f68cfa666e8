/**
 * The weights and rules a serving configuration may set over a tier's default: an experiment
 * variant's (`POST /v1/admin/experiments`, checked by the API) and an adaptive arm's
 * (`SHELF_ADAPTIVE`, checked at start-up) alike, so neither can serve what the other refuses.
 */
import { Type } from '@sinclair/typebox';
import type { TObject } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { MAX_WEIGHT } from './experiment-definition.ts';

const Weight = Type.Optional(Type.Number({ minimum: 0, maximum: MAX_WEIGHT }));

export const PresetWeights = Type.Object(
  { vector: Weight, neighbours: Weight, complements: Weight, trending: Weight, ease: Weight },
  { additionalProperties: false },
);

export const PresetRules = Type.Object(
  {
    maxPerCategory: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    mmrLambda: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    newItemSlot: Type.Optional(Type.Integer({ minimum: -1, maximum: 99 })),
  },
  { additionalProperties: false },
);

const Preset = Type.Object(
  { weights: Type.Optional(PresetWeights), rules: Type.Optional(PresetRules) },
  { additionalProperties: false },
);

/** The first thing wrong with `preset`: where (a dotted path, '' for the whole) and why; null if none. */
export function presetError(preset: unknown): { path: string; reason: string } | null {
  const e = Value.Errors(Preset, preset).First();
  if (!e) return null;
  const path = e.path.split('/').filter(Boolean).join('.');
  // A misspelt field ("trendng") is named with the fields there are, not as "Unexpected
  // property" (the error's path ends at that field; its schema is the object's).
  if (e.type === ValueErrorType.ObjectAdditionalProperties)
    return { path, reason: `is not one of ${Object.keys((e.schema as TObject).properties).join(', ')}` };
  return { path, reason: e.message };
}
