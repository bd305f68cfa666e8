/** TypeBox schemas of the HTTP API (DESIGN.md "HTTP"); types come from `Static<>`. */
import { Type } from '@sinclair/typebox';
import { PresetRules, PresetWeights } from '../experiments/preset-schema.ts';
import type { JobState } from '../jobs/job-types.ts';
import type { Static } from '@sinclair/typebox';
import { LIFECYCLES, SEGMENTS } from '../segments/segments.ts';
import type { Lifecycle, Segment } from '../segments/segments.ts';
import { TIERS } from '../serving/types.ts';
import { RATING_MAX } from '../store/event-weights.ts';
import { EVENT_TYPES } from '../store/types.ts';
import { MAX_PRICE, MAX_QUANTITY, MAX_STOCK } from '../store/validate.ts';
import type { Tier } from '../serving/types.ts';

export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});

/** No control characters (src/store/validate.ts `idProblem`): PostgreSQL refuses U+0000 in a query too. */
const Id = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
  description: 'an id without control characters',
});
const IdList = Type.String({ maxLength: 10_000, description: 'comma-separated item ids' });

/** An `enum`, not TypeBox's `Union` of literals: ajv checks an `anyOf` branch by branch, per request. */
export const TierParams = Type.Object({ tier: Type.Unsafe<Tier>({ type: 'string', enum: [...TIERS] }) });
/**
 * The admin routes' query strings refuse a parameter they do not have, naming it: a misspelt
 * `grupBy` answered ungrouped totals as if asked for them. The storefront's recommendation query
 * does not: pages pass tracking and cache-busting parameters it has no use for.
 */
const ADMIN_QUERY = { additionalProperties: false } as const;

export const RecommendQuery = Type.Object({
  userId: Type.Optional(Id),
  sessionId: Type.Optional(Id),
  itemId: Type.Optional(Id),
  cartItemIds: Type.Optional(IdList),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  exclude: Type.Optional(IdList),
  minPrice: Type.Optional(Type.Number({ minimum: 0 })),
  maxPrice: Type.Optional(Type.Number({ minimum: 0 })),
  brand: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
});
export type RecommendQuery = Static<typeof RecommendQuery>;

/** The explain route: a recommendation request, `itemId` the item asked about, `pageItemId` the page's. */
export const ExplainQuery = Type.Composite(
  [
    Type.Omit(RecommendQuery, ['itemId']),
    Type.Object({
      tier: Type.Unsafe<Tier>({ type: 'string', enum: [...TIERS] }),
      itemId: Id,
      pageItemId: Type.Optional(Id),
    }),
  ],
  ADMIN_QUERY,
);
export type ExplainQuery = Static<typeof ExplainQuery>;
export const ExplainReply = Type.Object({
  itemId: Type.String(),
  shown: Type.Boolean(),
  position: Type.Union([Type.Integer(), Type.Null()]),
  stage: Type.String(),
  reason: Type.String(),
  score: Type.Union([Type.Number(), Type.Null()]),
  lowestShown: Type.Union([Type.Number(), Type.Null()]),
  items: Type.Array(Type.Object({ itemId: Type.String(), score: Type.Number(), reason: Type.String() })),
  config: Type.String({ description: 'the configuration the list is served with' }),
  experiment: Type.Optional(Type.String()),
  variant: Type.Optional(Type.String()),
});

/**
 * `string | null` as one `type: [string, null]`: TypeBox's `Union` makes an `anyOf`, which
 * fast-json-stringify can only serialise by running ajv on the value for every reply.
 */
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });

export const RecommendationReply = Type.Object({
  recommendationId: Type.String(),
  tier: Type.String(),
  modelVersion: NullableString,
  experiment: Type.Optional(Type.String()),
  variant: Type.Optional(Type.String()),
  items: Type.Array(Type.Object({ itemId: Type.String(), score: Type.Number(), reason: Type.String() })),
});

export type RecommendationReply = Static<typeof RecommendationReply>;

/**
 * Records are validated one by one (src/store/validate.ts), so one bad event never sinks the
 * batch: not even one that is no object (`5`, `null`), which an item schema of objects refused
 * with the whole batch.
 */
export const EventsBody = Type.Object({
  events: Type.Array(Type.Unknown(), { minItems: 1, maxItems: 1000 }),
});
export type EventsBody = Static<typeof EventsBody>;

const FieldErrors = Type.Array(Type.Object({ field: Type.String(), reason: Type.String() }));
export const EventsReply = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  results: Type.Array(
    Type.Object({
      index: Type.Integer(),
      eventId: Type.Optional(Type.String()),
      status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate'), Type.Literal('rejected')]),
      errors: Type.Optional(FieldErrors),
    }),
  ),
});

/** Validated one by one, as events are. */
export const ItemsBody = Type.Object({
  items: Type.Array(Type.Unknown(), { minItems: 1, maxItems: 1000 }),
});
export type ItemsBody = Static<typeof ItemsBody>;

const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Integer()], {
  description: 'ISO-8601 (a zoneless time is UTC) or epoch milliseconds',
});
const Attributes = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]));

/** An event's fields as the document shows them; validate.ts `validateEvent` checks each record. */
const EventRecord = Type.Object(
  {
    eventId: Type.String({ description: 'unique: a duplicate is counted once' }),
    type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
    userId: Type.Optional(Type.String({ description: 'userId or sessionId is required' })),
    sessionId: Type.Optional(Type.String()),
    itemId: Type.String(),
    timestamp: Timestamp,
    quantity: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: MAX_QUANTITY,
        description: 'units of a purchase or return',
      }),
    ),
    price: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PRICE, description: 'unit price' })),
    value: Type.Optional(
      Type.Number({ minimum: 0, maximum: RATING_MAX, description: 'a rating, required for rating events' }),
    ),
    recommendationId: Type.Optional(Type.String({ description: 'the list the event follows' })),
    context: Type.Optional(Attributes),
  },
  {
    additionalProperties: false,
    description: 'another field is refused by name (free-form data goes in context)',
  },
);

const ItemStatus = Type.Union([Type.Literal('active'), Type.Literal('delisted')]);

/** An item's fields as the document shows them; validate.ts `validateItem` checks each record. */
const ItemRecord = Type.Object(
  {
    itemId: Type.String(),
    title: Type.Optional(Type.String({ description: 'required for a new item; a stored one keeps its own' })),
    description: Type.Optional(Type.String()),
    categories: Type.Optional(
      Type.Array(Type.String(), { description: "category paths, 'Home > Kitchen > Mugs'" }),
    ),
    brand: Type.Optional(Type.String()),
    price: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PRICE })),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    stock: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_STOCK })),
    status: Type.Optional(ItemStatus),
    publishedAt: Type.Optional(Timestamp),
    repurchasable: Type.Optional(Type.Boolean()),
    attributes: Type.Optional(Attributes),
  },
  {
    additionalProperties: false,
    description: 'another field is refused by name (free-form data goes in attributes)',
  },
);

/**
 * The OpenAPI document's request body of a route: batches of events and items show their
 * records' fields, though ajv takes any element (each is checked by validate.ts, so one bad
 * record is reported, not the batch refused). @fastify/swagger's `transform` calls this.
 */
export function documentedBody(body: unknown): unknown {
  const records =
    body === EventsBody ? { events: EventRecord } : body === ItemsBody ? { items: ItemRecord } : null;
  if (!records) return body;
  const [key, record] = Object.entries(records)[0]!;
  return Type.Object({ [key]: Type.Array(record, { minItems: 1, maxItems: 1000 }) });
}
export const ItemsReply = Type.Object({
  written: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Array(Type.Object({ index: Type.Integer(), errors: FieldErrors })),
});

export const ItemParams = Type.Object({ itemId: Id });
export const ItemPatch = Type.Object(
  {
    stock: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_STOCK })),
    price: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PRICE })),
    status: Type.Optional(ItemStatus),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ItemPatch = Static<typeof ItemPatch>;

export const UserParams = Type.Object({ userId: Id });
export const SessionParams = Type.Object({ sessionId: Id });
/** The user id is also checked as events' are (never e-mail-shaped: src/store/validate.ts). */
export const MergeBody = Type.Object({ userId: Id }, { additionalProperties: false });
export const UserPatchBody = Type.Object(
  {
    consent: Type.Optional(Type.Object({ personalization: Type.Boolean() }, { additionalProperties: false })),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const UserReply = Type.Object({
  userId: Type.String(),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
  consent: Type.Object({ personalization: Type.Boolean() }),
});
export const AuditQuery = Type.Object(
  {
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'entries older than this seq' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  ADMIN_QUERY,
);
export const AuditReply = Type.Object({
  entries: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      at: Type.String(),
      role: Type.String(),
      keyId: Type.Union([Type.String(), Type.Null()]),
      action: Type.String(),
      target: Type.Union([Type.String(), Type.Null()]),
      detail: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  ),
});

const SegmentName = Type.Unsafe<Segment | null>({ type: ['string', 'null'], enum: [...SEGMENTS, null] });
const LifecycleName = Type.Unsafe<Lifecycle | null>({
  type: ['string', 'null'],
  enum: [...LIFECYCLES, null],
});
const NullableNumber = Type.Unsafe<number | null>({ type: ['number', 'null'] });

export const ProfileReply = Type.Object({
  userId: Type.String(),
  known: Type.Boolean(),
  consent: Type.Object({ personalization: Type.Boolean() }),
  createdAt: NullableString,
  recentEvents: Type.Integer(),
  lastEventAt: NullableString,
  /** Null without personalization consent (no profile is made then). */
  segment: SegmentName,
  lifecycle: LifecycleName,
  purchases: Type.Union([Type.Integer(), Type.Null()], { description: 'days with a purchase' }),
  revenue: NullableNumber,
});

const Counts = Type.Record(Type.String(), Type.Integer());
export const SegmentsQuery = Type.Object(
  { top: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 20 })) },
  ADMIN_QUERY,
);
export const SegmentsReply = Type.Object({
  computedAt: Type.String(),
  tookMs: Type.Integer(),
  users: Type.Integer(),
  bySegment: Counts,
  byLifecycle: Counts,
  /** Null: nobody bought, so nobody is high-value. */
  highValueRevenue: NullableNumber,
  rules: Type.Object({
    newDays: Type.Number(),
    churningDays: Type.Number(),
    churnedDays: Type.Number(),
    loyalPurchases: Type.Integer(),
  }),
  /** Per segment: 30-day retention of users first seen over 30 days ago, and the repurchase rate of buyers. */
  kpis: Type.Record(
    Type.String(),
    Type.Object({
      cohort: Type.Integer(),
      retention30: NullableNumber,
      buyers: Type.Integer(),
      repurchaseRate: NullableNumber,
    }),
  ),
  trending: Type.Record(
    Type.String(),
    Type.Object({
      users: Type.Integer(),
      items: Type.Array(Type.Object({ itemId: Type.String(), score: Type.Number() })),
    }),
  ),
});

export const VersionParams = Type.Object({ version: Type.String({ pattern: '^v\\d{8}-\\d{6}-\\d{3}$' }) });

/** Every error answer (src/errors.ts lists the codes); each route declares it for 4xx and 5xx. */
export const ErrorResponses = { '4xx': ErrorReply, '5xx': ErrorReply } as const;

export const ItemReply = Type.Object(
  {
    itemId: Type.String(),
    title: Type.String(),
    description: Type.Optional(Type.String()),
    categories: Type.Array(Type.String()),
    brand: Type.Optional(Type.String()),
    price: Type.Optional(Type.Number()),
    currency: Type.Optional(Type.String()),
    stock: Type.Optional(Type.Integer()),
    status: Type.String(),
    publishedAt: Type.Number({ description: 'epoch ms' }),
    repurchasable: Type.Boolean(),
    attributes: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: true },
);

export const DeleteUserReply = Type.Object({
  userId: Type.String(),
  profileRemoved: Type.Boolean(),
  eventsRemoved: Type.Integer(),
  versionsRewritten: Type.Integer({
    description: 'stored model versions rewritten without the user (id, vector, training row)',
  }),
});
export const MergeReply = Type.Object({
  sessionId: Type.String(),
  userId: Type.String(),
  eventsMoved: Type.Integer(),
});

export const JobParams = Type.Object({ id: Id });
export const JobReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  state: Type.Unsafe<JobState>({ type: 'string', enum: ['queued', 'running', 'completed', 'failed'] }),
  queuedAt: Type.String(),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  attempts: Type.Integer({ description: 'attempts started so far (a retried job shows 2 or more)' }),
  progress: Type.Optional(
    Type.Object({ stage: Type.String(), percent: Type.Number({ minimum: 0, maximum: 100 }) }),
  ),
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.String({ description: 'the reason of the last failure' })),
});
export const JobsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) },
  ADMIN_QUERY,
);
export const JobsReply = Type.Object({
  counts: Type.Object({
    queued: Type.Integer(),
    running: Type.Integer(),
    completed: Type.Integer(),
    failed: Type.Integer(),
  }),
  jobs: Type.Array(JobReply),
});
export const SchedulesReply = Type.Object({
  schedules: Type.Array(
    Type.Object({
      job: Type.String(),
      schedule: Type.Union([Type.String(), Type.Null()], {
        description: 'cron pattern (UTC) or interval; null: off',
      }),
      next: Type.Union([Type.String(), Type.Null()], { description: 'the next firing, ISO time' }),
    }),
  ),
});
/** The train job's payload, the body of `POST /v1/admin/train` (src/jobs/job-payloads.ts). */
export { TrainPayload as TrainBody } from '../jobs/job-payloads.ts';

const Manifest = Type.Object(
  {
    schemaVersion: Type.Integer(),
    version: Type.String(),
    kind: Type.String(),
    params: Type.Unknown(),
    seed: Type.Number(),
    data: Type.Unknown(),
    files: Type.Unknown(),
    metrics: Type.Unknown(),
    createdAt: Type.String(),
    codeVersion: Type.String(),
  },
  { additionalProperties: true },
);
export const ModelsReply = Type.Object({
  current: NullableString,
  serving: NullableString,
  versions: Type.Array(Manifest),
});
export const PromoteQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, ADMIN_QUERY);
export const VerdictReply = Type.Object({
  promoted: Type.Boolean(),
  message: Type.String(),
  candidate: NullableNumber,
  current: NullableNumber,
});
export const RollbackReply = Type.Object({ current: Type.String() });

export const HealthReply = Type.Object({ status: Type.Literal('ok') });
export const ReadyReply = Type.Object({
  ready: Type.Boolean(),
  modelVersion: NullableString,
  store: Type.Boolean(),
  pinned: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description:
        'each tier a shipped variant keeps on a model version other than modelVersion, and that version',
    }),
  ),
});
export const MetricsReply = Type.String({ description: 'Prometheus text format' });

/** `GET /v1/admin/metrics`: dates and keys are checked by src/feedback/feedback-metrics.ts (400 naming the field). */
export const FeedbackMetricsQuery = Type.Object(
  {
    from: Type.String({ description: 'first UTC day, YYYY-MM-DD' }),
    to: Type.String({ description: 'last UTC day (inclusive), YYYY-MM-DD' }),
    groupBy: Type.Optional(
      Type.String({
        description:
          'comma-separated subset of tier,modelVersion,config,experiment,variant,day,position (variant brings experiment)',
      }),
    ),
  },
  ADMIN_QUERY,
);
export const FeedbackMetricsReply = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rows: Type.Array(
    Type.Object({
      tier: Type.Optional(NullableString),
      modelVersion: Type.Optional(NullableString),
      config: Type.Optional(NullableString),
      experiment: Type.Optional(NullableString),
      variant: Type.Optional(NullableString),
      day: Type.Optional(NullableString),
      position: Type.Optional(Type.Integer()),
      impressions: Type.Integer(),
      itemsShown: Type.Integer(),
      visitors: Type.Unsafe<number | null>({
        type: ['number', 'null'],
        description:
          'users and sessions reached (a list asked for by nobody counts as an impression only); null by position',
      }),
      clicks: Type.Integer(),
      addToCarts: Type.Integer(),
      purchases: Type.Integer(),
      units: Type.Number(),
      revenue: Type.Number(),
      ctr: Type.Number(),
      itemCtr: Type.Number(),
      addToCartRate: Type.Number(),
      conversionRate: Type.Number(),
      revenuePerMille: Type.Number(),
      visitorCtr: NullableNumber,
    }),
  ),
});

/** Experiments (src/experiments/): a variant changes the tier's default weights and rules. */
const VariantConfig = Type.Object(
  {
    modelVersion: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'a registered model version this variant is served from, beside the current one',
      }),
    ),
    weights: Type.Optional(PresetWeights),
    rules: Type.Optional(PresetRules),
  },
  { additionalProperties: false },
);
const ExperimentVariant = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), share: Type.Number(), config: VariantConfig },
  { additionalProperties: false },
);
const Buckets = Type.Array(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 }), {
  description: "the variant's buckets of 10,000 (half-open ranges) once its shares were changed",
});
const ExperimentVariantReply = Type.Object({
  name: Type.String(),
  share: Type.Number(),
  config: VariantConfig,
  buckets: Type.Optional(Buckets),
});
const Unit = Type.Union([Type.Literal('user'), Type.Literal('session')]);
const Audience = Type.Object(
  { segments: Type.Optional(Type.Array(Type.String(), { maxItems: 50 })) },
  { additionalProperties: false },
);
export const ExperimentBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    tiers: Type.Array(Type.String(), { minItems: 1, maxItems: 5 }),
    unit: Unit,
    layer: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    traffic: Type.Optional(
      Type.Number({ description: "share of the layer's traffic, in (0, 1]; default 1" }),
    ),
    audience: Type.Optional(Audience),
    variants: Type.Array(ExperimentVariant, { minItems: 2, maxItems: 20 }),
  },
  { additionalProperties: false },
);
export type ExperimentBody = Static<typeof ExperimentBody>;
export const ExperimentParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ShipBody = Type.Object(
  { variant: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export const AdaptiveReply = Type.Object({
  tiers: Type.Record(
    Type.String(),
    Type.Object({ arms: Type.Array(Type.String()), probabilities: Type.Array(Type.Number()) }),
    { description: "each adaptive tier's arms (the default first) and their chances now" },
  ),
});
export const SharesBody = Type.Object(
  {
    variants: Type.Array(
      Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 64 }), share: Type.Number() },
        { additionalProperties: false },
      ),
      { minItems: 2, maxItems: 20 },
    ),
  },
  { additionalProperties: false },
);
export type SharesBody = Static<typeof SharesBody>;
export const ResultsQuery = Type.Object(
  {
    nStar: Type.Optional(
      Type.Integer({
        minimum: 10,
        maximum: 1e9,
        description: 'combined units at which the sequential interval is tightest; default 5000',
      }),
    ),
  },
  ADMIN_QUERY,
);
export const ExperimentReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tiers: Type.Array(Type.String()),
  unit: Type.String(),
  layer: Type.String(),
  traffic: Type.Number(),
  audience: Type.Optional(Audience),
  variants: Type.Array(ExperimentVariantReply),
  state: Type.String(),
  range: Type.Unsafe<[number, number] | null>({ type: ['array', 'null'], items: { type: 'integer' } }),
  createdAt: Type.Number(),
  startedAt: NullableNumber,
  stoppedAt: NullableNumber,
  shipped: Type.Unsafe<{ variant: string; at: number } | null>({
    type: ['object', 'null'],
    properties: { variant: { type: 'string' }, at: { type: 'number' } },
  }),
});
export const ExperimentsReply = Type.Object({ experiments: Type.Array(ExperimentReply) });
const Interval = Type.Array(NullableNumber, { minItems: 2, maxItems: 2 });
const Metric = Type.Object({ value: NullableNumber, ci95: Interval });
export const ExperimentResultsReply = Type.Object({
  id: Type.String(),
  state: Type.String(),
  control: Type.String(),
  alpha: Type.Number(),
  multipleExposures: Type.Integer(),
  methods: Type.Record(Type.String(), Type.String()),
  variants: Type.Array(
    Type.Object({
      name: Type.String(),
      share: Type.Number(),
      units: Type.Integer(),
      impressions: Type.Number(),
      clicks: Type.Number(),
      purchases: Type.Number(),
      revenue: Type.Number(),
      convertingUnits: Type.Number(),
      metrics: Type.Object({ ctr: Metric, conversion: Metric, revenuePerUnit: Metric }),
    }),
  ),
  comparisons: Type.Array(
    Type.Object({
      variant: Type.String(),
      metric: Type.String(),
      lift: NullableNumber,
      liftCi95: Interval,
      pValue: NullableNumber,
      pValueHolm: NullableNumber,
      sequentialCi95: Interval,
      sequentialPValue: NullableNumber,
      cuped: Type.Unsafe<object | null>({
        type: ['object', 'null'],
        properties: {
          lift: { type: ['number', 'null'] },
          liftCi95: { type: 'array', items: { type: ['number', 'null'] } },
          pValue: { type: ['number', 'null'] },
          theta: { type: 'number' },
          varianceReduction: { type: ['number', 'null'] },
        },
      }),
    }),
  ),
  srm: Type.Object({
    pValue: NullableNumber,
    flagged: Type.Boolean(),
    chi2: NullableNumber,
    threshold: Type.Number(),
  }),
});

/** Multipliers of blended scores: above 1 lifts, below 1 sinks (never 0: a filter removes). */
const Factors = (description: string) =>
  Type.Record(
    Type.String({ minLength: 1, maxLength: 512 }),
    Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
    {
      description,
    },
  );
/** `PUT /v1/admin/rules`: the whole set, replacing the one served. */
export const RulesBody = Type.Object(
  {
    pins: Type.Array(
      Type.Object(
        {
          itemId: Id,
          slot: Type.Integer({ minimum: 0, maximum: 99, description: '0-based position in the list' }),
          tiers: Type.Optional(
            Type.Array(Type.String({ enum: [...TIERS] }), {
              minItems: 1,
              uniqueItems: true,
              description: 'the tiers whose lists show it (absent: every tier)',
            }),
          ),
          category: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 512,
              description: 'only in the lists asked for with this category',
            }),
          ),
        },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
    boosts: Type.Object(
      {
        itemIds: Type.Optional(Factors('by item id')),
        brands: Type.Optional(Factors('by brand')),
        categories: Type.Optional(Factors('by category subtree ("Home" covers "Home > Kitchen")')),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const RuleWarning = Type.Object({ field: Type.String(), reason: Type.String() });
export const RulesReply = Type.Composite([
  RulesBody,
  Type.Object({
    updatedAt: Type.Union([Type.String(), Type.Null()], { description: 'null: never set (none served)' }),
    warnings: Type.Optional(Type.Array(RuleWarning)),
  }),
]);
