/**
 * `node --import tsx benchmarks/lib/prepare-data-dir.ts DIR ITEMS`: the HTTP runs' setup in a
 * process of its own (http-runs.ts): a first start of the server on DIR seeds the demo
 * storefront of ITEMS items and trains its first version, then it closes.
 */
import { pino } from 'pino';
import { startServer } from '../../src/app/start-server.ts';
import { loadConfig } from '../../src/config.ts';
import { demoOf } from './http-runs.ts';

const [dir, items] = process.argv.slice(2);
if (!dir || !items) throw new Error('usage: prepare-data-dir.ts DIR ITEMS');
const t0 = performance.now();
const server = await startServer({
  config: loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: '0', SHELF_LOG_LEVEL: 'silent' }),
  log: pino({ level: 'silent' }),
  demo: demoOf(Number(items)),
  onProgress: (m, p) => {
    if (!p) console.error(`setup: ${m} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  },
});
await server.close();
