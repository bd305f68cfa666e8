/**
 * `GET /v1/admin/explain?tier=…&itemId=…&userId=…|sessionId=…`: whether the item would be shown to
 * that visitor, at which position, and if not, the stage that kept it out (src/serving/explain.ts)
 * — in the list they are served: their experiment's variant, a shipped one or an adaptive arm, as
 * the recommendations route chooses it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Engine } from '../../serving/engine.ts';
import type { Tier } from '../../serving/types.ts';
import { ADMIN } from '../auth.ts';
import { requestOf, routeRequest } from '../recommend-request.ts';
import type { Routers } from '../recommend-request.ts';
import * as S from '../schemas.ts';

export interface ExplainRoutesOptions extends Omit<Routers, 'engine'> {
  engine: Pick<Engine, 'explain' | 'defaultConfig'>;
}

export const explainRoutes: FastifyPluginAsyncTypebox<ExplainRoutesOptions> = async (app, o) => {
  const { engine } = o;
  app.get(
    '/v1/admin/explain',
    {
      config: ADMIN,
      schema: {
        summary: "Why an item is or is not in a visitor's list, and the stage that dropped it",
        tags: ['feedback'],
        querystring: S.ExplainQuery,
        response: { 200: S.ExplainReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const { tier, itemId, pageItemId, ...rest } = req.query;
      // The schema's enum admits only tiers (Type.Unsafe carries no static type through the provider).
      const request = requestOf(tier as Tier, {
        ...rest,
        ...(pageItemId !== undefined ? { itemId: pageItemId } : {}),
      });
      await routeRequest(request, o);
      const e = await engine.explain(request, itemId);
      return {
        ...e,
        items: [...e.items],
        config: request.config?.name ?? 'default',
        ...(request.experiment ? { experiment: request.experiment, variant: request.variant } : {}),
      };
    },
  );
};
