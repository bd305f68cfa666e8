/** `PUT /v1/items` (batch upsert) and `PATCH /v1/items/:itemId` (stock, price, status). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../../errors.ts';
import type { Engine } from '../../serving/engine.ts';
import type { Store } from '../../store/types.ts';
import { validateItem } from '../../store/validate.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';

export interface ItemRoutesOptions {
  store: Pick<Store, 'upsertItems' | 'getItem'>;
  engine: Pick<Engine, 'updateItems'>;
}

export const itemRoutes: FastifyPluginAsyncTypebox<ItemRoutesOptions> = async (app, { store, engine }) => {
  app.put(
    '/v1/items',
    { config: ADMIN, schema: { body: S.ItemsBody, response: { 200: S.ItemsReply, ...S.ErrorResponses } } },
    async (req) => {
      const now = Date.now();
      const checked = req.body.items.map((raw) => validateItem(raw, now));
      const valid = checked.flatMap((c) => (c.ok ? [c.value] : []));
      const { written } = valid.length ? await store.upsertItems(valid) : { written: 0 };
      engine.updateItems(valid);
      const errors = checked.flatMap((c, index) => (c.ok ? [] : [{ index, errors: c.errors }]));
      return { written, rejected: errors.length, errors };
    },
  );

  app.patch(
    '/v1/items/:itemId',
    {
      config: ADMIN,
      schema: {
        params: S.ItemParams,
        body: S.ItemPatch,
        response: { 200: S.ItemReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const item = await store.getItem(req.params.itemId);
      if (!item) throw new NotFoundError('item', req.params.itemId);
      const next = { ...item, ...req.body };
      await store.upsertItems([next]);
      engine.updateItems([next]);
      return next;
    },
  );
};
