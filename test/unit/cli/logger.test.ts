import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { notFoundHandler } from '../../../src/api/error-handler.ts';
import { cliLogger } from '../../../src/cli/logger.ts';

describe('the command line’s logger', () => {
  it('logs a request by method and route, without the ids in its path and query; redacts connection URLs', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const log = cliLogger('info', sink);
    const app = Fastify({ loggerInstance: log });
    app.get('/v1/users/:userId/profile', async () => ({ ok: true }));
    app.setNotFoundHandler(notFoundHandler);
    await app.ready();
    await app.inject({ url: '/v1/users/u-secret/profile?sessionId=s-secret' });
    await app.inject({ url: '/v1/nothing-here/u-secret' });
    log.info({ database: { url: 'postgres://shelf:pw@db/shelf' } }, 'store opened');
    await app.close();
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('pw@');
    const incoming = lines.filter((l) => l.msg === 'incoming request').map((l) => l.req);
    expect(incoming).toEqual([
      { method: 'GET', route: '/v1/users/:userId/profile' },
      { method: 'GET', route: '(no route)' },
    ]);
    expect(lines.find((l) => l.msg === 'store opened')).toMatchObject({ database: { url: '[Redacted]' } });
  });
});
