/**
 * The error catalogue: every error Shelf raises on purpose has a stable `code` and the HTTP
 * status an API answer would carry (after fastify's `lib/errors.js`).
 */
export class ShelfError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
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

export class NotFoundError extends ShelfError {
  constructor(what: string, id: string) {
    super('SHELF_ERR_NOT_FOUND', 404, `${what} ${JSON.stringify(id)} not found`);
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
