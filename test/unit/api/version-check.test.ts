/**
 * The version check under the change feed: a version made current in the models dir without a
 * logged change (its publisher died between the two) is served within `SHELF_VERSION_CHECK_MS`,
 * through HTTP, by a replica that was never told; with the check off it is not.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { trainVersion } from '../../../training/publish.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ENV = { SHELF_API_KEYS: `storefront:${SHOP},admin:admin-key-0123456789abcdef` };

describe('the version check', () => {
  let shop: TrainedShop;
  const started: Shelf[] = [];
  const start = async (checkMs: string) => {
    const s = await shop.start({ ...ENV, SHELF_VERSION_CHECK_MS: checkMs }, () => NOW);
    started.push(s);
    return s;
  };
  const served = async (s: Shelf) => {
    const r = await s.app.inject({
      url: '/v1/recommendations/personalized?userId=u-00001&limit=5',
      headers: { authorization: `Bearer ${SHOP}` },
    });
    expect(r.statusCode).toBe(200);
    return (r.json() as { modelVersion: string }).modelVersion;
  };

  beforeAll(async () => {
    shop = await trainedShop({ seed: 3, items: 120, users: 60, events: 3000, now: NOW });
  });
  afterAll(async () => {
    for (const s of started) await s.close();
    await shop.close();
  });

  it('serves a version made current without a logged change within the check, and not with it off', async () => {
    const checked = await start('50');
    const unchecked = await start('0');
    const first = await shop.registry.current();
    expect(await served(checked)).toBe(first);
    const log = pino({ level: 'silent' });
    const { manifest } = await trainVersion({
      store: shop.store,
      registry: shop.registry,
      recipe: { factors: 8, iterations: 3 },
      seed: 2,
      log,
    });
    await shop.registry.promote(manifest.version);
    const deadline = Date.now() + 5000;
    while ((await served(checked)) !== manifest.version && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    expect(await served(checked)).toBe(manifest.version);
    expect(await served(unchecked)).toBe(first);
  });
});
