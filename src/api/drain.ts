/**
 * Graceful drain (SIGTERM): `/readyz` turns false at once so the load balancer stops sending,
 * requests in flight finish, and a request arriving meanwhile is answered 503 with
 * `Retry-After` rather than dropped. Every answer while draining says `Connection: close`, and
 * the listener stays open a short while after the last request in flight: a client holding a
 * kept-alive connection gets a 503 on it instead of a reset when the socket goes. Probes and
 * metrics stay up.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ShelfError } from '../errors.ts';

/** Seconds a client is told to wait before trying again (another replica answers meanwhile). */
const RETRY_AFTER_S = 5;
/** How long the listener stays open at least, ms, answering 503 (bounded by the deadline). */
const LINGER_MS = 1000;
const ALWAYS_OPEN = new Set(['/healthz', '/readyz', '/metrics']);

export class Drain {
  private on = false;
  private inflight = 0;
  /** Requests counted in `inflight` (a 503 answered while draining is not). */
  private readonly counted = new WeakSet<FastifyRequest>();
  private idle: (() => void) | null = null;

  get draining(): boolean {
    return this.on;
  }

  /** The onRequest hook, first of all: counts the request, or answers 503 while draining. */
  readonly onRequest = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    if (this.on && !ALWAYS_OPEN.has(req.url.split('?', 1)[0]!)) {
      reply.header('retry-after', String(RETRY_AFTER_S));
      return done(ShelfError.of('SHELF_ERR_UNAVAILABLE', `shutting down; retry in ${RETRY_AFTER_S} s`));
    }
    this.inflight++;
    this.counted.add(req);
    done();
  };

  /** The onSend hook: while draining, no connection is kept alive. */
  readonly onSend = (
    _req: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    done: (err: null, p: unknown) => void,
  ): void => {
    if (this.on) reply.header('connection', 'close');
    done(null, payload);
  };

  /** The onResponse hook. */
  readonly onResponse = (req: FastifyRequest, _reply: FastifyReply, done: () => void): void => {
    this.finished(req);
    done();
  };

  /** The onRequestAbort hook (the client went away). */
  readonly onAbort = (req: FastifyRequest, done: () => void): void => {
    this.finished(req);
    done();
  };

  private finished(req: FastifyRequest): void {
    if (this.counted.delete(req) && --this.inflight === 0) this.idle?.();
  }

  /**
   * Starts draining; resolves once no request is in flight and the linger has passed, or at
   * `deadline` (epoch ms).
   */
  async start(deadline: number): Promise<void> {
    this.on = true;
    // Unref'd: the timer of the race's loser must not keep the process up.
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)).unref());
    const settled = this.inflight === 0 ? Promise.resolve() : new Promise<void>((r) => (this.idle = r));
    const linger = sleep(Math.min(LINGER_MS, deadline - Date.now()));
    await Promise.race([Promise.all([settled, linger]), sleep(deadline - Date.now())]);
    this.idle = null;
  }
}
