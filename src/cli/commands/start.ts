/** `shelf start` (`npm start`): the whole engine on one machine; see src/app/start-server.ts. */
import cliProgress from 'cli-progress';
import { startServer } from '../../app/start-server.ts';
import type { Command } from '../command.ts';

const start: Command = {
  summary:
    'serve the API (embedded: seeds demo data into an empty store and trains a first model; with Redis the workers train it)',
  usage: 'shelf start   (configure with SHELF_* variables, DATABASE_URL, REDIS_URL; see README.md)',
  async run(_args, ctx) {
    const tty = process.stderr.isTTY;
    const bar = tty
      ? new cliProgress.SingleBar(
          { format: '{phase} [{bar}] {value}/{total}', stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : null;
    let phase = '';
    const t0 = performance.now();
    const server = await startServer({
      config: ctx.config,
      log: ctx.log,
      onProgress(message, p) {
        if (!p) {
          if (phase) bar?.stop();
          phase = '';
          process.stderr.write(`shelf: ${message}\n`);
          return;
        }
        if (!bar) return;
        if (p.phase !== phase) {
          if (phase) bar.stop();
          phase = p.phase;
          bar.start(p.total, p.done, { phase: `importing ${p.phase}` });
        }
        bar.update(Math.min(p.done, p.total));
      },
    });
    if (phase) bar?.stop();
    const base = server.url;
    const shop = server.apiKeys.find((k) => k.role === 'storefront')?.key ?? '<storefront key>';
    const admin = server.apiKeys.find((k) => k.role === 'admin')?.key ?? '<admin key>';
    const curl = (path: string) => `  curl -H 'Authorization: Bearer ${shop}' '${base}${path}'`;
    // Placeholders until a version is served (PostgreSQL's first start): no made-up id.
    const { userId = '<userId>', itemId = '<itemId>', category } = server.example;
    const q = encodeURIComponent;
    const lines = [
      `\nShelf is ready in ${((performance.now() - t0) / 1000).toFixed(1)} s at ${base}`,
      `  API docs   ${base}/docs`,
      `  health     ${base}/healthz   ready ${base}/readyz   metrics ${base}/metrics`,
      server.generatedKeys
        ? `  generated keys, kept in the store (set SHELF_API_KEYS to choose your own):\n    storefront ${shop}\n    admin      ${admin}`
        : '  API keys from SHELF_API_KEYS',
      '\nTry:',
      curl(`/v1/recommendations/homepage?userId=${q(userId)}`),
      curl(`/v1/recommendations/personalized?userId=${q(userId)}&limit=10`),
      // Only with a category the catalogue has: another one answers an empty list.
      ...(category ? [curl(`/v1/recommendations/category?category=${q(category)}&userId=${q(userId)}`)] : []),
      curl(`/v1/recommendations/similar?itemId=${q(itemId)}`),
      curl(`/v1/recommendations/cart?cartItemIds=${q(itemId)}`),
      '',
    ];
    ctx.out.write(lines.join('\n') + '\n');
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.stderr.write('shelf: shutting down\n');
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    // Drain within the bound; should closing itself hang, the process still goes soon after it.
    const bound = ctx.config.drainMs;
    setTimeout(() => {
      process.stderr.write(`shelf: not closed ${bound} ms after the signal; exiting\n`);
      process.exit(1);
    }, bound + 2000).unref();
    await server.drain(bound);
    return 0;
  },
};

export default start;
