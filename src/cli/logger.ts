/**
 * The command line's logger: pino on stderr (so `--json` output on stdout stays machine-readable),
 * secrets redacted, and requests logged by method and route.
 */
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

/** What the request serializer reads of a Fastify request. */
interface LoggedRequest {
  method: string;
  url: string;
  routeOptions?: { url?: string };
}

/**
 * A request as the logs show it: its method and route pattern (`/v1/users/:userId`), never the
 * URL. Its path and query name users and sessions (ids an erasure should not have to hunt for in
 * logs); the route ties a 400 or a 404 to the endpoint, and `reqId` the lines of one request.
 * Fastify's default wrote the URL, which the blanket redaction of `*.url` (meant for the store's
 * and Redis's URLs) turned into "[Redacted]" on every request.
 */
export function requestForLog(req: LoggedRequest): { method: string; route: string } {
  return { method: req.method, route: req.routeOptions?.url ?? '(no route)' };
}

export function cliLogger(level: string, destination: DestinationStream = pino.destination(2)): Logger {
  return pino(
    {
      level,
      // Connection URLs may carry passwords; keys are secrets.
      redact: ['*.url', '*.key', 'apiKeys'],
      serializers: { req: requestForLog },
    },
    destination,
  );
}
