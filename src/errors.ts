/**
 * The error catalogue: every error Shelf raises on purpose has a stable `code` and the HTTP
 * status an API answer would carry (after fastify's `lib/errors.js`). `ERROR_CODES` lists every
 * code an answer may carry; the API maps Fastify's own errors onto these (src/api/errors.ts),
 * so no `FST_ERR_*` code reaches a client.
 */

/** Every `SHELF_ERR_*` code and the HTTP status it answers with. */
export const ERROR_CODES = {
  /** A request field or a record is invalid (the field is named). */
  SHELF_ERR_VALIDATION: 400,
  /** The body is not JSON. */
  SHELF_ERR_INVALID_JSON: 400,
  /** A JSON content type with an empty body. */
  SHELF_ERR_EMPTY_BODY: 400,
  /** Another malformed request (the reason is in `details`). */
  SHELF_ERR_REQUEST: 400,
  /** Input that cannot be read at all (unknown format, unreadable file). */
  SHELF_ERR_INPUT: 400,
  SHELF_ERR_UNAUTHENTICATED: 401,
  SHELF_ERR_FORBIDDEN: 403,
  SHELF_ERR_NOT_FOUND: 404,
  SHELF_ERR_METHOD_NOT_ALLOWED: 405,
  /** The user was erased (right to erasure): nothing more is stored or changed for that id. */
  SHELF_ERR_ERASED: 410,
  /** The quality gate refused a version. */
  SHELF_ERR_QUALITY_GATE: 409,
  /** A version or its files are missing, malformed or in the wrong state. */
  SHELF_ERR_MODEL_REGISTRY: 409,
  /** An experiment exists already, is in a state the action cannot leave, or its layer has no room. */
  SHELF_ERR_EXPERIMENT_STATE: 409,
  SHELF_ERR_BODY_TOO_LARGE: 413,
  SHELF_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  SHELF_ERR_RATE_LIMITED: 429,
  /** The process is shutting down (see `Retry-After`); another replica answers. */
  SHELF_ERR_UNAVAILABLE: 503,
  /** Anything unexpected; the answer hides the message. */
  SHELF_ERR_INTERNAL: 500,
  SHELF_ERR_CONFIG: 500,
  SHELF_ERR_ANN_INDEX: 500,
  SHELF_ERR_ARTEFACT: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ShelfError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** An error of a catalogue `code`, with the code's status. */
  static of(code: ErrorCode, message: string, details?: unknown): ShelfError {
    return new ShelfError(code, ERROR_CODES[code], message, details);
  }
}

/** A configuration value is missing or malformed; names the environment variable. */
export class ConfigError extends ShelfError {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super('SHELF_ERR_CONFIG', 500, `${variable}: ${reason}`);
  }
}

/** One field of one input record is invalid. */
export interface FieldError {
  field: string;
  reason: string;
}

/** A record failed validation; `errors` says which fields and why. */
export class ValidationError extends ShelfError {
  constructor(readonly errors: FieldError[]) {
    super('SHELF_ERR_VALIDATION', 400, errors.map((e) => `${e.field}: ${e.reason}`).join('; '), errors);
  }
}

/** The user was erased: their id is a tombstone, and nothing more is stored or changed for it. */
export class ErasedError extends ShelfError {
  constructor(readonly userId: string) {
    super(
      'SHELF_ERR_ERASED',
      ERROR_CODES.SHELF_ERR_ERASED,
      `user ${userId} was erased; send a new pseudonymous id`,
    );
  }
}

export class NotFoundError extends ShelfError {
  constructor(what: string, id: string) {
    super('SHELF_ERR_NOT_FOUND', 404, `${what} ${JSON.stringify(id)} not found`);
  }
}

/** No API key, an unknown one (401), or a key whose role may not call the route (403). */
export class AuthError extends ShelfError {
  constructor(status: 401 | 403, message: string) {
    super(status === 401 ? 'SHELF_ERR_UNAUTHENTICATED' : 'SHELF_ERR_FORBIDDEN', status, message);
  }
}

/** A model version, its manifest or its files are missing or malformed, or a rollback has nowhere to go. */
export class RegistryError extends ShelfError {
  constructor(message: string) {
    super('SHELF_ERR_MODEL_REGISTRY', ERROR_CODES.SHELF_ERR_MODEL_REGISTRY, message);
  }
}

/** An index file is missing, malformed, or does not match the vectors given with it. */
export class AnnIndexError extends ShelfError {
  constructor(message: string) {
    super('SHELF_ERR_ANN_INDEX', ERROR_CODES.SHELF_ERR_ANN_INDEX, message);
  }
}

/** Input that cannot be read at all (unknown format, unreadable file). */
export class InputError extends ShelfError {
  constructor(message: string) {
    super('SHELF_ERR_INPUT', 400, message);
  }
}

/** A stored model artefact that cannot be used: bad manifest, missing or mis-sized file. */
export class ArtefactError extends ShelfError {
  constructor(message: string) {
    super('SHELF_ERR_ARTEFACT', 500, message);
  }
}
