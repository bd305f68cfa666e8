/**
 * The shop's merchandising rules: `GET /v1/admin/rules` and `PUT /v1/admin/rules` (pinned
 * promotions and boosts, the whole set at once). Stored, audited and served by every replica
 * through the change feed, from the next request on (here before the answer).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog } from '../../changes/audit-log.ts';
import type { ChangeFeed } from '../../changes/change-feed.ts';
import { ValidationError } from '../../errors.ts';
import type { Engine } from '../../serving/engine.ts';
import { checkMerchantRules, NO_RULES, tidyRules } from '../../serving/merchant-rules.ts';
import type { Store } from '../../store/types.ts';
import { ADMIN, actorOf } from '../auth.ts';
import * as S from '../schemas.ts';

export interface RulesRoutesOptions {
  engine: Pick<Engine, 'catalogueLabels'>;
  store: Pick<Store, 'merchantRules' | 'saveMerchantRules'>;
  changes: Pick<ChangeFeed, 'publish'>;
  audit: Pick<AuditLog, 'record'>;
  now?: () => number;
}

export const rulesRoutes: FastifyPluginAsyncTypebox<RulesRoutesOptions> = async (
  app,
  { engine, store, changes, audit, now = Date.now },
) => {
  const reply = { 200: S.RulesReply, ...S.ErrorResponses };

  app.get(
    '/v1/admin/rules',
    {
      config: ADMIN,
      schema: {
        summary: 'The merchandising rules: pinned promotions and boosts',
        tags: ['rules'],
        response: reply,
      },
    },
    async () => {
      const stored = await store.merchantRules();
      return {
        ...(stored?.rules ?? NO_RULES),
        updatedAt: stored ? new Date(stored.updatedAt).toISOString() : null,
      };
    },
  );

  app.put(
    '/v1/admin/rules',
    {
      config: ADMIN,
      schema: {
        summary: 'Replace the merchandising rules',
        tags: ['rules'],
        body: S.RulesBody,
        response: reply,
      },
    },
    async (req) => {
      const rules = tidyRules(req.body);
      const { problems, warnings } = checkMerchantRules(rules, engine.catalogueLabels());
      if (problems.length)
        throw new ValidationError(problems.map((p) => ({ field: `body/${p.field}`, reason: p.reason })));
      const at = now();
      await store.saveMerchantRules(rules, at);
      // The whole set, as JSON: the log is the rules' history.
      await audit.record(actorOf(req), 'rules.update', null, { rules: JSON.stringify(rules) });
      await changes.publish([{ kind: 'rules' }]);
      return { ...rules, updatedAt: new Date(at).toISOString(), warnings };
    },
  );
};
