/**
 * `GET /v1/admin/explain?tier=…&itemId=…&userId=…|sessionId=…`: whether the item would be shown to
 * that visitor, at which position, and if not, the stage that kept it out (src/serving/explain.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Engine } from '../../serving/engine.ts';
import type { Tier } from '../../serving/types.ts';
import { ADMIN } from '../auth.ts';
import { requestOf } from '../recommend-request.ts';
import * as S from '../schemas.ts';

export interface ExplainRoutesOptions {
  engine: Pick<Engine, 'explain'>;
}

export const explainRoutes: FastifyPluginAsyncTypebox<ExplainRoutesOptions> = async (app, { engine }) => {
  app.get(
    '/v1/admin/explain',
    {
      config: ADMIN,
      schema: { querystring: S.ExplainQuery, response: { 200: S.ExplainReply, ...S.ErrorResponses } },
    },
    async (req) => {
      const { tier, itemId, pageItemId, ...rest } = req.query;
      // The schema's enum admits only tiers (Type.Unsafe carries no static type through the provider).
      const request = requestOf(tier as Tier, {
        ...rest,
        ...(pageItemId !== undefined ? { itemId: pageItemId } : {}),
      });
      const e = await engine.explain(request, itemId);
      return { ...e, items: [...e.items] };
    },
  );
};
