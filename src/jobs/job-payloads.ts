/**
 * The payload of each job, as TypeBox schemas: `POST /v1/admin/train` takes the train payload as
 * its body (the API's schema is this one), and every runner checks a job's payload before its
 * processor runs. A payload that does not match fails the job at once, without retry
 * (`PayloadError`; BullMQ's `UnrecoverableError` in the worker).
 */
import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import type { ValueError } from '@sinclair/typebox/value';
import { IMPORT_ENCODINGS, IMPORT_FORMATS, IMPORT_KINDS } from '../store/import/types.ts';
import type { ShelfJobName } from './job-types.ts';

export const TrainPayload = Type.Object(
  {
    factors: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
    regularization: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    alpha: Type.Optional(Type.Number({ minimum: 0 })),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Make the version current even if it fails the quality gate. */
    force: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type TrainPayload = Static<typeof TrainPayload>;

/** A file the job's process reads: with workers, on a filesystem they share. */
export const ImportPayload = Type.Object(
  {
    // Unions of literals, not `Unsafe` enums: TypeBox's `Value` checks these too.
    kind: Type.Union(IMPORT_KINDS.map((k) => Type.Literal(k))),
    file: Type.String({ minLength: 2, maxLength: 4096, pattern: '^/', description: 'an absolute path' }),
    format: Type.Optional(Type.Union(IMPORT_FORMATS.map((f) => Type.Literal(f)))),
    encoding: Type.Optional(Type.Union(IMPORT_ENCODINGS.map((e) => Type.Literal(e)))),
  },
  { additionalProperties: false },
);
export type ImportPayload = Static<typeof ImportPayload>;

const Empty = Type.Object({}, { additionalProperties: false });

export const JOB_PAYLOADS: Readonly<Record<ShelfJobName, TSchema>> = {
  train: TrainPayload,
  segments: Empty,
  'aggregate-feedback': Empty,
  import: ImportPayload,
};

/** A payload that its job's schema refuses: the job fails at once, never retried. */
export class PayloadError extends Error {
  constructor(
    readonly job: string,
    readonly errors: readonly { field: string; reason: string }[],
  ) {
    super(`bad ${job} payload: ${errors.map((e) => `${e.field} ${e.reason}`).join('; ')}`);
    this.name = 'PayloadError';
  }
}

/** TypeBox's reason, but a union of literals (a kind, a format) lists them: not "Expected union value". */
function reasonOf(e: ValueError): string {
  const options = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (e.type === ValueErrorType.Union && options?.every((o) => o.const !== undefined))
    return `must be one of ${options.map((o) => JSON.stringify(o.const)).join(', ')}`;
  return e.message;
}

/** Checks `data` (undefined: `{}`) against the schema of job `name`; throws `PayloadError`. */
export function checkPayload(name: string, data: unknown): unknown {
  const schema = (JOB_PAYLOADS as Readonly<Record<string, TSchema>>)[name];
  if (!schema) throw new PayloadError(name, [{ field: 'name', reason: 'is not a Shelf job' }]);
  const payload = data ?? {};
  const errors = [...Value.Errors(schema, payload)].map((e) => ({
    field: `data${e.path}`,
    reason: reasonOf(e),
  }));
  if (errors.length) throw new PayloadError(name, errors);
  return payload;
}
