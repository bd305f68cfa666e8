/**
 * Every error answer as `{ statusCode, code, message, details? }` with a code of the catalogue
 * (src/errors.ts). Fastify's own client errors (`FST_ERR_*`) get a stable Shelf code, their
 * reason in `details`; 5xx answers hide the message and are logged with `{ err }`.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, ShelfError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: unknown;
}

export const errorBody = (
  statusCode: number,
  code: string,
  message: string,
  details?: unknown,
): ErrorBody => ({
  statusCode,
  code,
  message,
  ...(details === undefined ? {} : { details }),
});

/** Fastify's client errors by code: the Shelf code and the message clients see. */
const FASTIFY_CODES: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'SHELF_ERR_INVALID_JSON', message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'SHELF_ERR_EMPTY_BODY',
    message: 'the body is empty but its content type is application/json',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'SHELF_ERR_UNSUPPORTED_MEDIA_TYPE',
    message: 'unsupported content type: send application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'SHELF_ERR_BODY_TOO_LARGE', message: 'the body is too large' },
};

/** Any other client error, by status. */
const BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  404: 'SHELF_ERR_NOT_FOUND',
  405: 'SHELF_ERR_METHOD_NOT_ALLOWED',
  413: 'SHELF_ERR_BODY_TOO_LARGE',
  415: 'SHELF_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'SHELF_ERR_RATE_LIMITED',
};

/** The catalogue error a Fastify (or plugin) client error answers as; its reason in `details`. */
export function fromFastifyError(err: FastifyError, status: number): ShelfError {
  const known = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (known) return ShelfError.of(known.code, known.message, { reason: err.message });
  const code = BY_STATUS[status] ?? 'SHELF_ERR_REQUEST';
  return new ShelfError(code, status, err.message, { reason: err.message });
}

type ValidationErrors = NonNullable<FastifyError['validation']>;

/**
 * A value outside a union of literals (`status: 'active' | 'delisted'`) fails each literal and
 * then the union: "must be equal to constant" once a literal, then "must match a schema in
 * anyOf", none naming a value allowed. Those become one error listing them.
 */
function oneOfValues(errors: ValidationErrors): ValidationErrors {
  const out: ValidationErrors = [];
  for (let k = 0; k < errors.length; k++) {
    const at = errors[k]!.instancePath;
    let end = k;
    while (errors[end]?.keyword === 'const' && errors[end]!.instancePath === at) end++;
    const union = errors[end];
    if (end > k && union?.keyword === 'anyOf' && union.instancePath === at) {
      const allowed = errors.slice(k, end).map((e) => JSON.stringify(e.params['allowedValue']));
      out.push({ ...union, message: `must be one of ${allowed.join(', ')}` });
      k = end;
    } else out.push(errors[k]!);
  }
  return out;
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation) {
    const where = err.validationContext ?? 'request';
    // The field named, a missing one or one not allowed ("body must NOT have additional
    // properties" left the client to guess which).
    const details = oneOfValues(err.validation).map((v) => {
      const p = v.params as Record<string, unknown> | undefined;
      const named = p?.['missingProperty'] ?? p?.['additionalProperty'];
      return {
        field: `${where}${v.instancePath}${named !== undefined ? `/${String(named)}` : ''}`,
        reason:
          p?.['additionalProperty'] !== undefined
            ? 'is not a field here'
            : p?.['missingProperty'] !== undefined
              ? 'is required'
              : Array.isArray(p?.['allowedValues'])
                ? // An enum: "must be equal to one of the allowed values" named none of them.
                  `must be one of ${p['allowedValues'].map((x) => JSON.stringify(x)).join(', ')}`
                : (v.message ?? 'is invalid'),
      };
    });
    const message = `${details[0]?.field ?? where} ${details[0]?.reason ?? 'is invalid'}`;
    const status = ERROR_CODES.SHELF_ERR_VALIDATION;
    return reply.status(status).send(errorBody(status, 'SHELF_ERR_VALIDATION', message, details));
  }
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
  // Shutting down is expected, and its answer says when to retry: no error logged, nothing hidden.
  const unavailable = err instanceof ShelfError && err.code === 'SHELF_ERR_UNAVAILABLE';
  if (status >= 500 && !unavailable) {
    req.log.error({ err }, 'request failed');
    const code = err instanceof ShelfError ? err.code : 'SHELF_ERR_INTERNAL';
    return reply.status(status).send(errorBody(status, code, 'internal error'));
  }
  const e = err instanceof ShelfError ? err : fromFastifyError(err, status);
  return reply.status(e.statusCode).send(errorBody(e.statusCode, e.code, e.message, e.details));
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): void {
  const status = ERROR_CODES.SHELF_ERR_NOT_FOUND;
  reply
    .status(status)
    .send(errorBody(status, 'SHELF_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
}
