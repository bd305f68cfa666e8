/**
 * `PUT /v1/items` (batch upsert) and `PATCH /v1/items/:itemId` (stock, price, status). Every
 * replica applies the change through the change feed; the audit log records who made it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog } from '../../changes/audit-log.ts';
import type { ChangeFeed } from '../../changes/change-feed.ts';
import { NotFoundError } from '../../errors.ts';
import { fieldsLeftOut, keepStoredFields, mergeRepeats, NEW_ITEM_TITLE } from '../../store/kept-fields.ts';
import type { KeptField } from '../../store/kept-fields.ts';
import type { Item, Store } from '../../store/types.ts';
import { validateItem } from '../../store/validate.ts';
import { ADMIN, actorOf } from '../auth.ts';
import * as S from '../schemas.ts';

export interface ItemRoutesOptions {
  store: Pick<Store, 'upsertItems' | 'getItem' | 'getItems'>;
  changes: Pick<ChangeFeed, 'publish'>;
  audit: Pick<AuditLog, 'record'>;
}

export const itemRoutes: FastifyPluginAsyncTypebox<ItemRoutesOptions> = async (
  app,
  { store, changes, audit },
) => {
  app.put(
    '/v1/items',
    {
      config: ADMIN,
      schema: {
        summary: 'Create or update up to 1,000 items (a field left out keeps its stored value)',
        tags: ['catalogue'],
        body: S.ItemsBody,
        response: { 200: S.ItemsReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const now = Date.now();
      const checked = req.body.items.map((raw) => validateItem(raw, now));
      // An item sent again without a field keeps the one sent before it in this body, else the
      // one stored (kept-fields.ts).
      const leftOut = new Map<Item, KeptField[]>(
        checked.flatMap((c, k) => (c.ok ? [[c.value, fieldsLeftOut(req.body.items[k])] as const] : [])),
      );
      const { items: valid, untitled } = await keepStoredFields(
        store,
        mergeRepeats([...leftOut.keys()], (i) => leftOut.get(i)),
      );
      const { written } = valid.length ? await store.upsertItems(valid) : { written: 0 };
      if (valid.length) {
        await audit.record(actorOf(req), 'items.upsert', null, { items: valid.length, written });
        await changes.publish([{ kind: 'items', itemIds: valid.map((i) => i.itemId) }]);
      }
      // A new item's records that gave no title, each refused where it is in the body.
      const noTitle = new Set(untitled.map((m) => m.item.itemId));
      const errors = checked.flatMap((c, index) =>
        !c.ok
          ? [{ index, errors: c.errors }]
          : noTitle.has(c.value.itemId)
            ? [{ index, errors: [{ ...NEW_ITEM_TITLE }] }]
            : [],
      );
      return { written, rejected: errors.length, errors };
    },
  );

  app.patch(
    '/v1/items/:itemId',
    {
      config: ADMIN,
      schema: {
        summary: "Change an item's stock, price, status or other fields",
        tags: ['catalogue'],
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
      await audit.record(actorOf(req), 'item.patch', next.itemId, { ...req.body });
      await changes.publish([{ kind: 'items', itemIds: [next.itemId] }]);
      return next;
    },
  );
};
