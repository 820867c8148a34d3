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

const revenue = `CAST(COALESCE(json_extract_scalar(properties, '$.revenue'), json_extract_scalar(properties, '$.total'), json_extract_scalar(properties, '$.value')) AS DOUBLE)`;
const person = 'COALESCE(userid, anonymousid)';

export const NAMED_QUERIES: readonly NamedQuery[] = [
  {
    name: 'daily_active_users',
    description: 'Distinct people (userId, else anonymousId) with at least one event, per day',
    sql: `SELECT substr("timestamp", 1, 10) AS day, count(DISTINCT ${person}) AS active_users
FROM events WHERE source_id = ?
GROUP BY 1 ORDER BY 1`,
  },
  {
    name: 'events_per_day_by_type',
    description: 'Event counts per day and message type',
    sql: `SELECT substr("timestamp", 1, 10) AS day, type, count(*) AS events
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
    description: 'Order Completed revenue (revenue, else total, else value) and orders per day',
    sql: `SELECT substr("timestamp", 1, 10) AS day, round(sum(${revenue}), 2) AS revenue, count(*) AS orders
FROM events WHERE source_id = ? AND type = 'track' AND event = 'Order Completed'
GROUP BY 1 ORDER BY 1`,
  },
  {
    name: 'signup_to_purchase_funnel',
    description: 'People who signed up, and how many of them completed an order afterwards',
    sql: `WITH signups AS (
  SELECT ${person} AS person, min("timestamp") AS at FROM events
  WHERE source_id = ? AND type = 'track' AND event = 'Signed Up' GROUP BY 1
), orders AS (
  SELECT ${person} AS person, max("timestamp") AS at FROM events
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
];

export function namedQuery(name: string): NamedQuery {
  const q = NAMED_QUERIES.find((x) => x.name === name);
  if (!q)
    throw new RangeError(`No named query ${name}; known: ${NAMED_QUERIES.map((x) => x.name).join(', ')}`);
  return q;
}

/** Where Trino and DuckDB differ, for the functions the named queries use. */
export function trinoToDuckDb(sql: string): string {
  return sql.replace(/\bjson_extract_scalar\s*\(/gi, 'json_extract_string(');
}

/** Binds `?` parameters as SQL string literals (for the local engine; Athena binds them itself). */
export function bindParameters(sql: string, params: readonly string[]): string {
  let i = 0;
  const out = sql.replace(/\?/g, () => {
    if (i >= params.length) throw new RangeError('Not enough parameters for the query');
    return `'${params[i++]!.replace(/'/g, "''")}'`;
  });
  return out;
}
