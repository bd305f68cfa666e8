/**
 * The security headers of every reply, fixed values set from a frozen object (helmet's
 * middleware, and @fastify/helmet around it, rebuilds the same values per request, which
 * measured ~40 µs of CPU per request against ~50 µs for a whole bare Fastify reply).
 *
 * Two sets. API replies (JSON, read by storefront servers and scripts, never rendered as a page)
 * carry the OWASP REST Security Cheat Sheet's set; helmet's document headers (a content policy
 * for scripts and styles, cross-origin isolation, referrer policy…) protect HTML pages and do
 * nothing for JSON, while each costs every API reply its bytes to write and to parse (the full
 * set is ~850 bytes a reply; ~10 µs of server and client CPU on a list-cache hit, measured with
 * benchmarks/http.ts). HTML pages (the API docs) get helmet's whole set on top.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** For every reply: no caching of answers, no framing, no MIME sniffing, HTTPS only. */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'content-security-policy': "frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
});

/** helmet's defaults, for HTML pages: computed once from helmet itself. */
export function documentSecurityHeaders(): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet()({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => (failure = err));
  if (failure) throw failure;
  return Object.freeze(headers);
}
