/**
 * API keys with roles, sent as `Authorization: Bearer <key>`. Keys are kept as SHA-256 digests
 * and compared in constant time; a key never appears in a log line.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../changes/audit-log.ts';
import type { ApiKey, ApiRole } from '../config.ts';
import { AuthError } from '../errors.ts';
import type { ShelfError } from '../errors.ts';
import type { AuthFailures } from './auth-failures.ts';

declare module 'fastify' {
  interface FastifyRequest {
    role?: ApiRole;
    keyId?: string;
  }
  interface FastifyContextConfig {
    /** Roles besides admin that may call the route; absent = public. */
    roles?: readonly ApiRole[];
  }
}

/** A route's `config` for storefront keys (and admin). */
export const STOREFRONT = { roles: ['storefront'] } as const satisfies { roles: readonly ApiRole[] };
/** A route's `config` for admin keys only. */
export const ADMIN = { roles: [] } as const satisfies { roles: readonly ApiRole[] };

/** Spellings of valid headers remembered (`Bearer`/`bearer`, spaces): a bound, not a cache size to tune. */
const MAX_VERIFIED = 1024;

const digest = (key: string) => createHash('sha256').update(key).digest();

export class KeyRing {
  private readonly keys: { digest: Buffer; role: ApiRole; id: string }[];
  /**
   * Headers already verified, so that a storefront's every request does not hash its key
   * again (~10 µs). Only headers that matched a key get in, so it holds at most one entry
   * per configured key (and its spelling variants), and a wrong guess always takes the
   * constant-time path.
   */
  private readonly verified = new Map<string, { role: ApiRole; keyId: string }>();

  constructor(keys: readonly ApiKey[]) {
    // The id (role and a digest prefix) names a key in logs and rate-limit counters without revealing it.
    this.keys = keys.map((k) => {
      const d = digest(k.key);
      return { digest: d, role: k.role, id: `${k.role}:${d.toString('hex').slice(0, 12)}` };
    });
  }

  /** The role and a loggable id of the key in an Authorization header; throws 401 when none matches. */
  authenticate(header: string | undefined): { role: ApiRole; keyId: string } {
    const known = header === undefined ? undefined : this.verified.get(header);
    if (known) return known;
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match) throw new AuthError(401, 'missing API key: send Authorization: Bearer <key>');
    const d = digest(match[1]!);
    // Compare with every key, so the time taken does not tell which one matched.
    let found: { role: ApiRole; id: string } | null = null;
    for (const k of this.keys) if (timingSafeEqual(k.digest, d)) found = k;
    if (!found) throw new AuthError(401, 'unknown API key');
    const result = { role: found.role, keyId: found.id };
    if (this.verified.size < MAX_VERIFIED) this.verified.set(header!, result);
    return result;
  }
}

/** `admin` may do everything; `storefront` only what `allowed` lists. */
export function authorize(role: ApiRole, allowed: readonly ApiRole[]): void {
  if (role !== 'admin' && !allowed.includes(role)) {
    throw new AuthError(403, `a ${role} key may not call this route`);
  }
}

/**
 * The onRequest hook of a route that `roles` (and admin) may call: sets the request's `role` and
 * `keyId`, or answers 401/403 — or 429 when `failures` finds the address over its limit of
 * failed authentications. A callback hook: an async one costs a promise per request.
 */
export function authenticator(keys: KeyRing, roles: readonly ApiRole[], failures?: AuthFailures) {
  return (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const refused = failures?.refusal(req.ip);
    if (refused) return done(withRetryAfter(reply, refused));
    try {
      const { role, keyId } = keys.authenticate(req.headers.authorization);
      authorize(role, roles);
      req.role = role;
      req.keyId = keyId;
    } catch (err) {
      // A wrong role (403) is not a failed authentication: the key was right.
      if (!failures || !(err instanceof AuthError) || err.statusCode !== 401) return done(err as Error);
      void failures.failed(req).then((limited) => done(limited ? withRetryAfter(reply, limited) : err));
      return;
    }
    done();
  };
}

/** Who asked, for the audit log: the authenticated key's role and id. */
export function actorOf(req: FastifyRequest): Actor {
  return { role: req.role ?? 'anonymous', keyId: req.keyId ?? null };
}

function withRetryAfter(reply: FastifyReply, err: ShelfError): ShelfError {
  const { retryAfterSeconds } = err.details as { retryAfterSeconds: number };
  reply.header('retry-after', retryAfterSeconds);
  return err;
}
