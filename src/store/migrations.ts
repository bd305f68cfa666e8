/**
 * Versioned schema migrations, one list per backend. A migration is never edited once shipped:
 * add a new version instead. `schema_migrations` records what ran.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Both stores' per-visitor-day aggregates without their visitor index: every new row wrote it at
 * a random place (about a third of an incremental aggregation's time). Erasure finds a visitor's
 * rows through the config index instead, one seek per config the aggregates hold, listed here.
 */
const WITHOUT_VISITOR_INDEX = `
  CREATE TABLE feedback_configs (config TEXT PRIMARY KEY);
  INSERT INTO feedback_configs SELECT DISTINCT config FROM feedback_visitor_days;
  DROP INDEX feedback_visitor_days_visitor;
`;

/**
 * The per-visitor-day aggregates lose their last secondary index, (config, visitor): each new
 * row wrote it at its visitor's random place, most of an incremental aggregation's time (1M new
 * lists over 10M, feedback bench: SQLite 7.1-8.8 s with it, 2.5 s without; PostgreSQL 8.0-9.3
 * s, 6.9 s). What it served goes through the primary key, (day, tier, model_version, config,
 * variant, visitor), one seek per group of its first five columns, listed in `feedback_groups`:
 * a visitor's rows to erase, an experiment's configs' rows to read out.
 */
const GROUPS_NOT_CONFIG_INDEX = `
  CREATE TABLE feedback_groups (
    day TEXT NOT NULL, tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
    PRIMARY KEY (day, tier, model_version, config, variant)
  );
  INSERT INTO feedback_groups SELECT DISTINCT day, tier, model_version, config, variant FROM feedback_visitor_days;
  DROP INDEX feedback_visitor_days_config;
  DROP TABLE feedback_configs;
`;

/**
 * The API keys generated at a start without `SHELF_API_KEYS`: one pair per store, kept. Made
 * per process, they changed at every restart and differed between replicas, so a storefront's
 * key stopped working (401) after a restart or on the other replica.
 */
/** The one row of the shop's merchandising rules (pins and boosts) as JSON. */
const MERCHANT_RULES = (json: string) => `
  CREATE TABLE merchant_rules (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body ${json} NOT NULL,
    updated_at BIGINT NOT NULL
  );
`;

/**
 * A list's item is clicked through once: a second click on it from the same list (a reload, a
 * script sending the click again under new event ids) is stored as an event, not credited again
 * (CTR stays clicks ÷ lists, never above one a shown item). Earlier duplicates go, the first
 * kept. The same index finds what a list's purchases of an item took in, for returns.
 */
const ONE_CLICK_PER_LIST_ITEM = `
  DELETE FROM attributions WHERE type = 'click' AND seq NOT IN (
    SELECT min(seq) FROM attributions WHERE type = 'click' GROUP BY recommendation_id, item_id);
  CREATE UNIQUE INDEX attributions_one_click ON attributions (recommendation_id, item_id) WHERE type = 'click';
  CREATE INDEX attributions_list_item ON attributions (recommendation_id, item_id);
`;

/**
 * The per-visitor-day aggregates keyed by (group id, visitor), the group's five text columns
 * (day, tier, model version, config, variant) kept once in `feedback_groups`: a row per visitor
 * repeated all five in its key, so that each one a run added wrote and compared ~70 bytes of
 * key where ~15 do. Feedback bench, 10M lists then 1M more, two alternated pairs: PostgreSQL
 * from scratch 74.1, 55.6 s → 39.1, 37.9 s, the 1M 6.19, 5.54 s → 3.69, 3.82 s; SQLite (one
 * pair) 34.7 → 24.7 s and 3.23 → 2.31 s. No foreign key: checking one would be a second seek
 * per row; only the aggregation writes both tables, groups first.
 */
const VISITOR_DAYS_BY_GROUP = (o: { groupId: string; table: string; int: string; real: string }) => `
  CREATE TABLE feedback_groups_by_id (
    id ${o.groupId},
    day TEXT NOT NULL, tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
    UNIQUE (day, tier, model_version, config, variant)
  );
  INSERT INTO feedback_groups_by_id (day, tier, model_version, config, variant)
    SELECT day, tier, model_version, config, variant FROM feedback_groups ORDER BY 1, 2, 3, 4, 5;
  CREATE TABLE feedback_visitor_days_by_group (
    group_id INTEGER NOT NULL, visitor TEXT NOT NULL,
    impressions ${o.int} NOT NULL, items_shown ${o.int} NOT NULL, clicks ${o.int} NOT NULL,
    add_to_carts ${o.int} NOT NULL, purchases ${o.int} NOT NULL, units ${o.real} NOT NULL, revenue ${o.real} NOT NULL,
    PRIMARY KEY (group_id, visitor)
  ) ${o.table};
  INSERT INTO feedback_visitor_days_by_group
    SELECT g.id, v.visitor, v.impressions, v.items_shown, v.clicks, v.add_to_carts, v.purchases, v.units, v.revenue
    FROM feedback_visitor_days v JOIN feedback_groups_by_id g
      ON g.day = v.day AND g.tier = v.tier AND g.model_version = v.model_version AND g.config = v.config AND g.variant = v.variant
    ORDER BY 1, 2;
  DROP TABLE feedback_visitor_days;
  DROP TABLE feedback_groups;
  ALTER TABLE feedback_visitor_days_by_group RENAME TO feedback_visitor_days;
  ALTER TABLE feedback_groups_by_id RENAME TO feedback_groups;
`;

/**
 * Amounts stored before `MAX_PRICE` and `MAX_QUANTITY` (validate.ts) bounded them, brought within them: on
 * PostgreSQL two purchases at 1.7e308 overflowed the aggregation's sum, which then failed at
 * every run (metrics, readouts and the bandit's totals stopped for the whole shop); SQLite summed
 * them to Infinity. Events, items and credits are clamped to the bounds; then the aggregate rows
 * a credit beyond them reached are summed again from the credits the watermark has passed (any
 * row past one bounded credit: only those can hold such an amount, and a sum again is exact).
 */
const WITHIN_BOUNDS = (() => {
  // MAX_PRICE, MAX_QUANTITY and their product as they were (a migration never changes).
  const [price, quantity, revenue] = ['1e12', '1e6', '1e18'];
  const passed = 'a.seq <= (SELECT attribution_seq FROM feedback_watermark WHERE id = 1)';
  const resum = (table: string, of: string) => `UPDATE ${table} AS t SET
      units = (SELECT coalesce(sum(a.units), 0) ${of} AND ${passed}),
      revenue = (SELECT coalesce(sum(a.revenue), 0) ${of} AND ${passed})
    WHERE abs(t.revenue) > ${revenue} OR t.units > ${quantity};`;
  return `
  UPDATE events SET price = ${price} WHERE price > ${price};
  UPDATE events SET quantity = ${quantity} WHERE quantity > ${quantity};
  UPDATE items SET price = ${price} WHERE price > ${price};
  UPDATE attributions SET units = ${quantity} WHERE units > ${quantity};
  UPDATE attributions SET revenue = CASE WHEN revenue > 0 THEN ${revenue} ELSE -${revenue} END
    WHERE abs(revenue) > ${revenue};
  ${resum(
    'feedback_visitor_days',
    `FROM attributions a JOIN feedback_groups g ON g.day = a.day AND g.tier = a.tier
      AND g.model_version = a.model_version AND g.config = a.config AND g.variant = a.variant
      WHERE g.id = t.group_id AND a.visitor = t.visitor`,
  )}
  ${resum(
    'feedback_positions',
    `FROM attributions a WHERE a.tier = t.tier AND a.model_version = t.model_version
      AND a.config = t.config AND a.variant = t.variant AND a.day = t.day AND a.position = t.position`,
  )}
`;
})();

const GENERATED_KEYS = `
  CREATE TABLE generated_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    storefront TEXT NOT NULL,
    admin TEXT NOT NULL
  );
`;

/**
 * A list served in an experiment that randomises by session counts by its session in the
 * per-visitor aggregates, whether or not the visitor was signed in (visitorKey of an impression,
 * types.ts): keyed by user, one session asked for with and without a userId was two units.
 */
const SESSION_UNIT = (type: string) => `ALTER TABLE impressions ADD COLUMN session_unit ${type};`;

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'items, users, events',
    sql: `
      CREATE TABLE items (
        item_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT,
        categories TEXT NOT NULL,
        brand TEXT,
        price REAL,
        currency TEXT,
        stock INTEGER,
        status TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        repurchasable INTEGER NOT NULL,
        attributes TEXT NOT NULL
      );
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        attributes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        consent_personalization INTEGER NOT NULL DEFAULT 1
      );
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        item_id TEXT NOT NULL,
        quantity REAL,
        price REAL,
        value REAL,
        recommendation_id TEXT,
        ts INTEGER NOT NULL,
        context TEXT
      );
      CREATE INDEX events_ts ON events (ts, seq);
      CREATE INDEX events_user ON events (user_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX events_session ON events (session_id) WHERE session_id IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'erased users, audit log, change feed',
    sql: `
      CREATE TABLE erased_users (user_id TEXT PRIMARY KEY, erased_at INTEGER NOT NULL);
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        role TEXT NOT NULL,
        key_id TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT
      );
      CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, change TEXT NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'impressions, attributions, feedback aggregates',
    sql: `
      CREATE TABLE impressions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        recommendation_id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        tier TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        experiment TEXT,
        variant TEXT,
        config TEXT NOT NULL,
        probability REAL NOT NULL DEFAULT 1,
        model_version TEXT,
        item_ids TEXT NOT NULL
      );
      CREATE INDEX impressions_user ON impressions (user_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX impressions_session ON impressions (session_id, ts) WHERE session_id IS NOT NULL;
      CREATE TABLE attributions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        item_id TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        ts INTEGER NOT NULL,
        recommendation_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        units REAL NOT NULL,
        revenue REAL NOT NULL,
        tier TEXT NOT NULL,
        model_version TEXT NOT NULL,
        config TEXT NOT NULL,
        variant TEXT NOT NULL,
        day TEXT NOT NULL,
        visitor TEXT NOT NULL
      );
      CREATE INDEX attributions_user ON attributions (user_id, item_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX attributions_session ON attributions (session_id, item_id, ts) WHERE session_id IS NOT NULL;
      CREATE TABLE feedback_visitor_days (
        tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
        day TEXT NOT NULL, visitor TEXT NOT NULL,
        impressions INTEGER NOT NULL, items_shown INTEGER NOT NULL, clicks INTEGER NOT NULL,
        add_to_carts INTEGER NOT NULL, purchases INTEGER NOT NULL, units REAL NOT NULL, revenue REAL NOT NULL,
        PRIMARY KEY (tier, model_version, config, variant, day, visitor)
      );
      CREATE INDEX feedback_visitor_days_day ON feedback_visitor_days (day);
      CREATE INDEX feedback_visitor_days_visitor ON feedback_visitor_days (visitor);
      CREATE TABLE feedback_positions (
        tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
        day TEXT NOT NULL, position INTEGER NOT NULL,
        items_shown INTEGER NOT NULL, clicks INTEGER NOT NULL,
        add_to_carts INTEGER NOT NULL, purchases INTEGER NOT NULL, units REAL NOT NULL, revenue REAL NOT NULL,
        PRIMARY KEY (tier, model_version, config, variant, day, position)
      );
      CREATE TABLE feedback_watermark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        impression_seq INTEGER NOT NULL,
        attribution_seq INTEGER NOT NULL
      );
      INSERT INTO feedback_watermark (id, impression_seq, attribution_seq) VALUES (1, 0, 0);
    `,
  },
  {
    version: 4,
    name: 'experiments',
    sql: `
      CREATE TABLE experiments (id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE INDEX feedback_visitor_days_config ON feedback_visitor_days (config, visitor);
    `,
  },
  {
    version: 5,
    // The aggregation groups lists by length: read from a column, not parsed from each list's JSON.
    name: 'impression list length',
    sql: `
      ALTER TABLE impressions ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
      UPDATE impressions SET shown = json_array_length(item_ids);
    `,
  },
  {
    version: 6,
    // Keyed by day first: each run adds to the newest days, so its writes stay in one region of
    // the key, and the key serves the metrics' day ranges (the day index goes).
    name: 'per-visitor-day aggregates keyed by day first',
    sql: `
      CREATE TABLE feedback_visitor_days_by_day (
        tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
        day TEXT NOT NULL, visitor TEXT NOT NULL,
        impressions INTEGER NOT NULL, items_shown INTEGER NOT NULL, clicks INTEGER NOT NULL,
        add_to_carts INTEGER NOT NULL, purchases INTEGER NOT NULL, units REAL NOT NULL, revenue REAL NOT NULL,
        PRIMARY KEY (day, tier, model_version, config, variant, visitor)
      );
      INSERT INTO feedback_visitor_days_by_day SELECT * FROM feedback_visitor_days;
      DROP TABLE feedback_visitor_days;
      ALTER TABLE feedback_visitor_days_by_day RENAME TO feedback_visitor_days;
      CREATE INDEX feedback_visitor_days_visitor ON feedback_visitor_days (visitor);
      CREATE INDEX feedback_visitor_days_config ON feedback_visitor_days (config, visitor);
    `,
  },
  {
    version: 7,
    // Off-policy evaluation's item-position estimator: per position, which arms of a stochastic
    // policy would have put the shown item there (null when the list was served deterministically).
    name: 'impression position propensities',
    sql: `ALTER TABLE impressions ADD COLUMN positions TEXT;`,
  },
  {
    version: 8,
    name: 'visitor-day aggregates without a visitor index',
    sql: WITHOUT_VISITOR_INDEX,
  },
  {
    version: 9,
    // Each list written added an entry to a per-visitor index at that visitor's place: about a
    // page written per list once the table is large, half of what writing a list cost. The
    // entries now go to a small table and move to the index table in visitor order once a second
    // (impression-visitors.ts).
    name: 'impressions visitor index in two tables',
    sql: `
      CREATE TABLE impression_visitors (
        visitor TEXT NOT NULL,
        ts INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (visitor, ts, seq)
      ) WITHOUT ROWID;
      CREATE TABLE impression_visitors_recent (
        visitor TEXT NOT NULL,
        ts INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (visitor, ts, seq)
      ) WITHOUT ROWID;
      INSERT INTO impression_visitors
        SELECT 'u:' || user_id, ts, seq FROM impressions WHERE user_id IS NOT NULL
        UNION ALL SELECT 's:' || session_id, ts, seq FROM impressions WHERE session_id IS NOT NULL
        ORDER BY 1, 2, 3;
      DROP INDEX impressions_user;
      DROP INDEX impressions_session;
    `,
  },
  {
    version: 10,
    name: 'visitor-day aggregates found through their groups',
    sql: GROUPS_NOT_CONFIG_INDEX,
  },
  { version: 11, name: 'generated API keys', sql: GENERATED_KEYS },
  { version: 12, name: 'impressions counted by session', sql: SESSION_UNIT('INTEGER') },
  { version: 13, name: 'merchandising rules', sql: MERCHANT_RULES('TEXT') },
  { version: 14, name: 'one click per list item', sql: ONE_CLICK_PER_LIST_ITEM },
  {
    version: 15,
    name: 'visitor-day aggregates keyed by group id',
    sql: VISITOR_DAYS_BY_GROUP({
      groupId: 'INTEGER PRIMARY KEY',
      table: 'WITHOUT ROWID',
      int: 'INTEGER',
      real: 'REAL',
    }),
  },
  { version: 16, name: 'amounts within bounds', sql: WITHIN_BOUNDS },
];

export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'items, users, events',
    sql: `
      CREATE TABLE items (
        item_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT,
        categories JSONB NOT NULL,
        brand TEXT,
        price DOUBLE PRECISION,
        currency TEXT,
        stock INTEGER,
        status TEXT NOT NULL,
        published_at BIGINT NOT NULL,
        repurchasable BOOLEAN NOT NULL,
        attributes JSONB NOT NULL
      );
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        attributes JSONB NOT NULL,
        created_at BIGINT NOT NULL,
        consent_personalization BOOLEAN NOT NULL DEFAULT TRUE
      );
      CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        item_id TEXT NOT NULL,
        quantity DOUBLE PRECISION,
        price DOUBLE PRECISION,
        value DOUBLE PRECISION,
        recommendation_id TEXT,
        ts BIGINT NOT NULL,
        context JSONB
      );
      CREATE INDEX events_ts ON events (ts, seq);
      CREATE INDEX events_user ON events (user_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX events_session ON events (session_id) WHERE session_id IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'erased users, audit log, change feed',
    sql: `
      CREATE TABLE erased_users (user_id TEXT PRIMARY KEY, erased_at BIGINT NOT NULL);
      CREATE TABLE audit_log (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        role TEXT NOT NULL,
        key_id TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail JSONB
      );
      CREATE TABLE changes (seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, change JSONB NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'impressions, attributions, feedback aggregates',
    sql: `
      CREATE TABLE impressions (
        seq BIGSERIAL PRIMARY KEY,
        recommendation_id TEXT NOT NULL UNIQUE,
        ts BIGINT NOT NULL,
        tier TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        experiment TEXT,
        variant TEXT,
        config TEXT NOT NULL,
        probability DOUBLE PRECISION NOT NULL DEFAULT 1,
        model_version TEXT,
        item_ids JSONB NOT NULL
      );
      CREATE INDEX impressions_user ON impressions (user_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX impressions_session ON impressions (session_id, ts) WHERE session_id IS NOT NULL;
      CREATE TABLE attributions (
        seq BIGSERIAL PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        item_id TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        ts BIGINT NOT NULL,
        recommendation_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        units DOUBLE PRECISION NOT NULL,
        revenue DOUBLE PRECISION NOT NULL,
        tier TEXT NOT NULL,
        model_version TEXT NOT NULL,
        config TEXT NOT NULL,
        variant TEXT NOT NULL,
        day TEXT NOT NULL,
        visitor TEXT NOT NULL
      );
      CREATE INDEX attributions_user ON attributions (user_id, item_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX attributions_session ON attributions (session_id, item_id, ts) WHERE session_id IS NOT NULL;
      CREATE TABLE feedback_visitor_days (
        tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
        day TEXT NOT NULL, visitor TEXT NOT NULL,
        impressions BIGINT NOT NULL, items_shown BIGINT NOT NULL, clicks BIGINT NOT NULL,
        add_to_carts BIGINT NOT NULL, purchases BIGINT NOT NULL, units DOUBLE PRECISION NOT NULL, revenue DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tier, model_version, config, variant, day, visitor)
      );
      CREATE INDEX feedback_visitor_days_day ON feedback_visitor_days (day);
      CREATE INDEX feedback_visitor_days_visitor ON feedback_visitor_days (visitor);
      CREATE TABLE feedback_positions (
        tier TEXT NOT NULL, model_version TEXT NOT NULL, config TEXT NOT NULL, variant TEXT NOT NULL,
        day TEXT NOT NULL, position INTEGER NOT NULL,
        items_shown BIGINT NOT NULL, clicks BIGINT NOT NULL,
        add_to_carts BIGINT NOT NULL, purchases BIGINT NOT NULL, units DOUBLE PRECISION NOT NULL, revenue DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tier, model_version, config, variant, day, position)
      );
      CREATE TABLE feedback_watermark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        impression_seq BIGINT NOT NULL,
        attribution_seq BIGINT NOT NULL
      );
      INSERT INTO feedback_watermark (id, impression_seq, attribution_seq) VALUES (1, 0, 0);
    `,
  },
  {
    version: 4,
    name: 'experiments',
    sql: `
      CREATE TABLE experiments (id TEXT PRIMARY KEY, body JSONB NOT NULL, updated_at BIGINT NOT NULL);
      CREATE INDEX feedback_visitor_days_config ON feedback_visitor_days (config, visitor);
    `,
  },
  {
    version: 5,
    name: 'impression list length',
    sql: `
      ALTER TABLE impressions ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
      UPDATE impressions SET shown = jsonb_array_length(item_ids);
    `,
  },
  {
    version: 6,
    // Each run adds to rows already there (a visitor seen again today): with room on the page the
    // new row version stays beside the old one and no index is touched (a HOT update). Measured:
    // an update-heavy chunk 2.7 s → 0.7 s.
    name: 'aggregate tables leave room for updates in place',
    sql: `
      ALTER TABLE feedback_visitor_days SET (fillfactor = 50);
      ALTER TABLE feedback_positions SET (fillfactor = 50);
    `,
  },
  {
    version: 7,
    // As SQLite's version 6: keyed by day first, so each run's writes stay in the newest days'
    // region of the key, which also serves the metrics' day ranges (the day index goes).
    name: 'per-visitor-day aggregates keyed by day first',
    sql: `
      ALTER TABLE feedback_visitor_days DROP CONSTRAINT feedback_visitor_days_pkey,
        ADD PRIMARY KEY (day, tier, model_version, config, variant, visitor);
      DROP INDEX feedback_visitor_days_day;
    `,
  },
  {
    version: 8,
    name: 'impression position propensities',
    sql: `ALTER TABLE impressions ADD COLUMN positions JSONB;`,
  },
  {
    version: 9,
    name: 'visitor-day aggregates without a visitor index',
    sql: WITHOUT_VISITOR_INDEX,
  },
  {
    version: 10,
    name: 'visitor-day aggregates found through their groups',
    sql: GROUPS_NOT_CONFIG_INDEX,
  },
  { version: 11, name: 'generated API keys', sql: GENERATED_KEYS },
  { version: 12, name: 'impressions counted by session', sql: SESSION_UNIT('BOOLEAN') },
  { version: 13, name: 'merchandising rules', sql: MERCHANT_RULES('JSONB') },
  { version: 14, name: 'one click per list item', sql: ONE_CLICK_PER_LIST_ITEM },
  {
    version: 15,
    name: 'visitor-day aggregates keyed by group id',
    // Room for updates in place, as version 6 gave the table this replaces.
    sql: `${VISITOR_DAYS_BY_GROUP({
      groupId: 'SERIAL PRIMARY KEY',
      table: 'WITH (fillfactor = 50)',
      int: 'BIGINT',
      real: 'DOUBLE PRECISION',
    })}
      ALTER TABLE feedback_visitor_days RENAME CONSTRAINT feedback_visitor_days_by_group_pkey TO feedback_visitor_days_pkey;
      ALTER TABLE feedback_groups RENAME CONSTRAINT feedback_groups_by_id_pkey TO feedback_groups_pkey;`,
  },
  { version: 16, name: 'amounts within bounds', sql: WITHIN_BOUNDS },
];
