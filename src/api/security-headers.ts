/**
 * helmet's security headers, computed once at start and set on every reply. helmet's
 * middleware (and @fastify/helmet around it) rebuilds the same values per request, which
 * measured ~40 µs of CPU per request against ~50 µs for a whole bare Fastify reply
 * (benchmarks/http.ts); the values do not depend on the request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

export function securityHeaders(): Readonly<Record<string, string>> {
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
