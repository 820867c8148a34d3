/**
 * Named queries, written once in Athena (Trino) SQL and run locally through a small translation to
 * DuckDB. `?` is the source id parameter (the raw table is partitioned by source with injected
 * partition projection, so Athena needs it in every query).
 */
export interface NamedQuery {
  readonly name: string;
  readonly description: string;
  readonly sql: string;
}

// Queries name the derived columns (`revenue`, `event_date`, `campaign`, `event_time`,
// `identity_value`: see derived-columns.ts) rather than extracting from `properties`/`context` JSON,
// parsing `timestamp` or reading both id columns: on Parquet those are small typed column chunks, and
// Athena bills the bytes of the columns a query reads.
/** The person an event is about: its userId, else its anonymousId (`COALESCE(userid, anonymousid)`). */
const person = 'identity_value';

export const NAMED_QUERIES: readonly NamedQuery[] = [
  {
    name: 'daily_active_users',
    description: 'Distinct people (userId, else anonymousId) with at least one event, per day',
    sql: `SELECT event_date AS day, count(DISTINCT ${person}) AS active_users
FROM events WHERE source_id = ?
GROUP BY 1 ORDER BY 1`,
  },
  {
    name: 'events_per_day_by_type',
    description: 'Event counts per day and message type',
    sql: `SELECT event_date AS day, type, count(*) AS events
FROM events WHERE source_id = ?
GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    name: 'top_events',
    description: 'The 20 most frequent track events',
    sql: `SELECT event, count(*) AS events
FROM events WHERE source_id = ? AND type = 'track'
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`,
  },
  {
    name: 'revenue_per_day',
    description:
      'Order Completed revenue (the first of revenue, total, value that is a plain decimal amount) and orders per day',
    sql: `SELECT event_date AS day, round(sum(revenue), 2) AS revenue, count(*) AS orders
FROM events WHERE source_id = ? AND type = 'track' AND event = 'Order Completed'
GROUP BY 1 ORDER BY 1`,
  },
  {
    name: 'signup_to_purchase_funnel',
    description: 'People who signed up, and how many of them completed an order afterwards',
    sql: `WITH signups AS (
  SELECT ${person} AS person, min(event_time) AS at FROM events
  WHERE source_id = ? AND type = 'track' AND event = 'Signed Up' GROUP BY 1
), orders AS (
  SELECT ${person} AS person, max(event_time) AS at FROM events
  WHERE source_id = ? AND type = 'track' AND event = 'Order Completed' GROUP BY 1
)
SELECT count(*) AS signed_up, count(orders.person) AS purchased_after_signup
FROM signups LEFT JOIN orders ON orders.person = signups.person AND orders.at >= signups.at`,
  },
  {
    name: 'identity_stitching_rate',
    description: 'Share of anonymous ids seen together with a userId at least once',
    sql: `SELECT count(DISTINCT anonymousid) AS anonymous_ids,
  count(DISTINCT CASE WHEN userid IS NOT NULL THEN anonymousid END) AS stitched,
  round(CAST(count(DISTINCT CASE WHEN userid IS NOT NULL THEN anonymousid END) AS DOUBLE) / nullif(count(DISTINCT anonymousid), 0), 4) AS stitching_rate
FROM events WHERE source_id = ? AND anonymousid IS NOT NULL`,
  },
  // The whole customer: events with their current profile (following merges), segments, the graph.
  {
    name: 'daily_active_people_per_segment',
    description:
      'Distinct people (current profile, merges followed) with an event per day, per segment they are a member of now',
    sql: `SELECT e.event_date AS day, m.segment_id, count(DISTINCT e.profile_id) AS active_people
FROM profile_events e
JOIN segment_memberships m ON m.profile_id = e.profile_id AND m.status = 'member'
WHERE e.source_id = ?
GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    name: 'three_step_funnel',
    description:
      'Product Viewed -> Product Added -> Order Completed per person (each step after the previous one), with average and median seconds between steps',
    sql: `WITH e AS (
  SELECT profile_id, event, event_time AS ts FROM profile_events
  WHERE source_id = ? AND type = 'track' AND profile_id IS NOT NULL
    AND event IN ('Product Viewed', 'Product Added', 'Order Completed')
), s1 AS (
  SELECT profile_id, min(ts) AS t1 FROM e WHERE event = 'Product Viewed' GROUP BY 1
), s2 AS (
  SELECT s1.profile_id, s1.t1, min(e.ts) AS t2 FROM s1
  JOIN e ON e.profile_id = s1.profile_id AND e.event = 'Product Added' AND e.ts >= s1.t1 GROUP BY 1, 2
), s3 AS (
  SELECT s2.profile_id, s2.t2, min(e.ts) AS t3 FROM s2
  JOIN e ON e.profile_id = s2.profile_id AND e.event = 'Order Completed' AND e.ts >= s2.t2 GROUP BY 1, 2
)
SELECT
  (SELECT count(*) FROM s1) AS viewed,
  (SELECT count(*) FROM s2) AS added,
  (SELECT count(*) FROM s3) AS ordered,
  (SELECT round(avg(date_diff('second', t1, t2))) FROM s2) AS avg_seconds_to_add,
  (SELECT approx_percentile(date_diff('second', t1, t2), 0.5) FROM s2) AS median_seconds_to_add,
  (SELECT round(avg(date_diff('second', t2, t3))) FROM s3) AS avg_seconds_to_order,
  (SELECT approx_percentile(date_diff('second', t2, t3), 0.5) FROM s3) AS median_seconds_to_order`,
  },
  {
    name: 'retention_by_first_seen_week',
    description: 'Cohorts by the ISO week a person was first seen: people active 0, 1, 2, ... weeks later',
    sql: `WITH activity AS (
  SELECT profile_id, date_trunc('week', CAST(event_date AS DATE)) AS week FROM profile_events
  WHERE source_id = ? AND profile_id IS NOT NULL GROUP BY 1, 2
), cohorts AS (
  SELECT profile_id, min(week) AS cohort FROM activity GROUP BY 1
)
SELECT CAST(CAST(c.cohort AS DATE) AS VARCHAR) AS cohort_week,
  date_diff('week', c.cohort, a.week) AS weeks_later,
  count(DISTINCT a.profile_id) AS people
FROM activity a JOIN cohorts c ON c.profile_id = a.profile_id
GROUP BY 1, 2 ORDER BY 1, 2`,
  },
  {
    name: 'revenue_by_campaign',
    description:
      "Order Completed revenue by the person's first-touch UTM campaign (the campaign column: context.campaign.name, else utm_campaign in the page URL); (none) without one",
    sql: `WITH touches AS (
  -- The first touch: ordered by time, then campaign, so ties break the same way everywhere.
  SELECT profile_id, campaign FROM (
    SELECT profile_id, campaign, row_number() OVER (PARTITION BY profile_id ORDER BY event_time, campaign) AS rn
    FROM profile_events
    WHERE source_id = ? AND profile_id IS NOT NULL AND campaign IS NOT NULL
  ) t WHERE rn = 1
), orders AS (
  SELECT profile_id, revenue FROM profile_events
  WHERE source_id = ? AND type = 'track' AND event = 'Order Completed'
)
SELECT COALESCE(t.campaign, '(none)') AS campaign, count(*) AS orders,
  count(DISTINCT o.profile_id) AS buyers, round(sum(o.revenue), 2) AS revenue
FROM orders o LEFT JOIN touches t ON t.profile_id = o.profile_id
GROUP BY 1 ORDER BY 4 DESC, 1`,
  },
  {
    name: 'revenue_by_segment',
    description: 'Order Completed revenue of the current members of each segment (all their orders)',
    sql: `SELECT m.segment_id, count(*) AS orders, count(DISTINCT e.profile_id) AS buyers,
  round(sum(e.revenue), 2) AS revenue
FROM profile_events e
JOIN segment_memberships m ON m.profile_id = e.profile_id AND m.status = 'member'
WHERE e.source_id = ? AND e.type = 'track' AND e.event = 'Order Completed'
GROUP BY 1 ORDER BY 4 DESC, 1`,
  },
  {
    name: 'profiles_per_identifier_type',
    description:
      'Identity graph health: identifiers, profiles, and identifiers per profile (average, largest) for each identifier type',
    sql: `WITH per_profile AS (
  SELECT i.identity_type, i.profile_id, count(*) AS n FROM identities i
  JOIN profiles p ON p.profile_id = i.profile_id GROUP BY 1, 2
)
SELECT identity_type, sum(n) AS identifiers, count(*) AS profiles,
  round(CAST(sum(n) AS DOUBLE) / count(*), 2) AS per_profile, max(n) AS max_per_profile
FROM per_profile GROUP BY 1 ORDER BY 1`,
  },
  {
    name: 'largest_identity_components',
    description:
      'Identity graph health: the 20 profiles holding the most identifiers, and how many merges made them',
    sql: `SELECT p.profile_id, count(*) AS identifiers, count(DISTINCT i.identity_type) AS identifier_types,
  (SELECT count(*) FROM merges m WHERE m.survivor = p.profile_id AND m.decision = 'merged') AS merges
FROM profiles p JOIN identities i ON i.profile_id = p.profile_id
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`,
  },
  {
    name: 'blocked_merges',
    description:
      'Identity graph health: merges refused by identifier limits, per day, and the profiles they kept apart',
    sql: `SELECT substr(merged_at, 1, 10) AS day, count(*) AS blocked, count(DISTINCT survivor) AS profiles
FROM merges WHERE decision = 'blocked'
GROUP BY 1 ORDER BY 1`,
  },
];

export function namedQuery(name: string): NamedQuery {
  const q = NAMED_QUERIES.find((x) => x.name === name);
  if (!q)
    throw new RangeError(`No named query ${name}; known: ${NAMED_QUERIES.map((x) => x.name).join(', ')}`);
  return q;
}

/**
 * A DuckDB macro with Trino's `json_extract_scalar` meaning: scalars as text, NULL for objects, arrays
 * and JSON null (DuckDB's `json_extract_string` returns an object's JSON text). The local engine
 * defines it on every connection.
 */
export const DUCKDB_JSON_SCALAR_MACRO = `CREATE OR REPLACE MACRO json_scalar(j, p) AS
  CASE WHEN json_type(j, p) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN', 'HUGEINT')
  THEN json_extract_string(j, p) END`;

/** Where Trino and DuckDB differ, for the functions the named queries use. */
export function trinoToDuckDb(sql: string): string {
  return sql
    .replace(/\bjson_extract_scalar\s*\(/gi, 'json_scalar(')
    .replace(/\bregexp_like\s*\(/gi, 'regexp_matches(')
    .replace(/\btry\s*\(\s*from_iso8601_timestamp\s*\(([^()]*)\)\s*\)/gi, 'TRY_CAST($1 AS TIMESTAMP)')
    .replace(/\bfrom_iso8601_timestamp\s*\(([^()]*)\)/gi, 'CAST($1 AS TIMESTAMP)')
    .replace(/\bAS\s+timestamp\s*\(\s*3\s*\)/gi, 'AS TIMESTAMP')
    .replace(/\bapprox_percentile\s*\(/gi, 'quantile_cont(');
}

/** `?` placeholders outside quoted literals, identifiers and comments (a URL pattern may hold a `?`). */
const PLACEHOLDER = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|\?/g;

export function parameterCount(sql: string): number {
  let n = 0;
  for (const m of sql.matchAll(PLACEHOLDER)) if (m[0] === '?') n++;
  return n;
}

/** Binds `?` parameters as SQL string literals (for the local engine; Athena binds them itself). */
export function bindParameters(sql: string, params: readonly string[]): string {
  let i = 0;
  return sql.replace(PLACEHOLDER, (token) => {
    if (token !== '?') return token;
    if (i >= params.length) throw new RangeError('Not enough parameters for the query');
    return `'${params[i++]!.replace(/'/g, "''")}'`;
  });
}
