/**
 * Derived event columns: the fields the named queries filter, group and sum on, lifted out of the
 * nested JSON into their own typed columns. Compacted Parquet stores them (computed here, in the
 * compactor), so a query reads a few small column chunks instead of the whole `context` or
 * `properties` JSON; on raw JSON hours the `events` view computes the same values with the SQL below.
 * The JavaScript and the SQL must agree on every input, including odd ones (missing UTM fields,
 * revenue sent as text or as an object): the rules are kept simple enough that both sides can state
 * them exactly, and tests compare the two paths on those inputs.
 */
export interface DerivedColumn {
  readonly name: string;
  /** Glue/Hive type of the Parquet column; the `events` view's column has the matching SQL type. */
  readonly type: 'string' | 'double' | 'timestamp';
  /** Athena (Trino) SQL over the raw table's columns; the local engine translates it like any query. */
  readonly sql: string;
  /** The same value from a raw record as the lake writer stored it (parsed JSON). */
  readonly from: (record: Record<string, unknown>) => string | number | null;
}

/**
 * A JSON scalar as text, the way `json_extract_scalar` returns it: strings as they are, numbers and
 * booleans as their JSON text, objects, arrays and null as null.
 */
function scalar(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  return null;
}

function at(record: unknown, path: readonly string[]): unknown {
  let v = record;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/**
 * An amount: plain decimal text only (optional minus, at most 15 digits before and after the point),
 * so it is always a finite double and both engines read it the same; anything else is no amount.
 */
const AMOUNT = /^-?[0-9]{1,15}(\.[0-9]{1,15})?$/;
const AMOUNT_SQL = "'^-?[0-9]{1,15}(\\.[0-9]{1,15})?$'";
const amountSql = (field: string) =>
  `CASE WHEN regexp_like(json_extract_scalar(properties, '$.${field}'), ${AMOUNT_SQL}) THEN CAST(json_extract_scalar(properties, '$.${field}') AS DOUBLE) END`;
const amount = (v: unknown): number | null => {
  const text = scalar(v);
  return text !== null && AMOUNT.test(text) ? Number(text) : null;
};

/**
 * The collector's time format (`Date.toISOString()`, what `timestamp` always holds for collected
 * events): anything else is no time, so Athena, DuckDB and the compactor never disagree on how to read
 * an odd string (a date alone, an offset, a space instead of `T`).
 */
const ISO_UTC = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?Z$/;
const ISO_UTC_SQL = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,3})?Z$'";
const epochMillis = (v: unknown): number | null => {
  const text = scalar(v);
  if (text === null || !ISO_UTC.test(text)) return null;
  const ms = Date.parse(text);
  // A day or time that does not exist (Feb 30, 25:00) is no time: the engines return NULL too.
  return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== text.slice(0, 19) ? null : ms;
};

/** A column as the raw table reads it: text, objects as their JSON (what `toRow` gives). */
const text = (v: unknown): string | null =>
  v === undefined || v === null ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** `utm_campaign=<value>` in a URL: the value as written (not URL-decoded), up to `&` or `#`. */
const UTM_CAMPAIGN = /utm_campaign=([^&#]+)/;

export const DERIVED_EVENT_COLUMNS: readonly DerivedColumn[] = [
  {
    // The event's time, typed: funnels and retention compare and subtract times. In Parquet it is
    // epoch milliseconds, delta-encoded (rows are in time order), about a byte per row against the
    // 24-character `timestamp` string; Athena reads it as a timestamp.
    name: 'event_time',
    type: 'timestamp',
    sql: `CASE WHEN regexp_like("timestamp", ${ISO_UTC_SQL}) THEN CAST(try(from_iso8601_timestamp("timestamp")) AS timestamp(3)) END`,
    from: (r) => epochMillis(r.timestamp),
  },
  {
    // The identifier an event resolves to its profile by (userId, else anonymousId: the processor's
    // priority) as one type and one value, so `profile_events` joins `identities` on one key column
    // instead of reading both id columns; a query on Parquet reads one id string per row.
    name: 'identity_type',
    type: 'string',
    sql: `CASE WHEN userid IS NOT NULL THEN 'user_id' WHEN anonymousid IS NOT NULL THEN 'anonymous_id' END`,
    from: (r) => (text(r.userId) !== null ? 'user_id' : text(r.anonymousId) !== null ? 'anonymous_id' : null),
  },
  {
    name: 'identity_value',
    type: 'string',
    sql: 'COALESCE(userid, anonymousid)',
    from: (r) => text(r.userId) ?? text(r.anonymousId),
  },
  {
    // The event's UTC day (`timestamp` is always the collector's ISO UTC time): one value per hourly
    // file, so it costs almost nothing in Parquet, against a distinct 24-character timestamp per row.
    name: 'event_date',
    type: 'string',
    sql: `substr("timestamp", 1, 10)`,
    from: (r) => {
      const t = scalar(r.timestamp);
      return t === null ? null : t.slice(0, 10);
    },
  },
  {
    // Segment's spec puts order value in `revenue`; shops also send `total` or `value`. The first of
    // them that is an amount counts, so `"revenue": "n/a"` falls back to `total` rather than failing
    // the query or summing text.
    name: 'revenue',
    type: 'double',
    sql: `COALESCE(${amountSql('revenue')}, ${amountSql('total')}, ${amountSql('value')})`,
    from: (r) => {
      for (const field of ['revenue', 'total', 'value']) {
        const v = amount(at(r.properties, [field]));
        if (v !== null) return v;
      }
      return null;
    },
  },
  {
    // The UTM campaign: analytics.js's `context.campaign.name`, else `utm_campaign` in the page URL;
    // empty values count as none (`regexp_extract` gives '' on DuckDB and NULL on Athena without a match).
    name: 'campaign',
    type: 'string',
    sql: `COALESCE(NULLIF(json_extract_scalar(context, '$.campaign.name'), ''), NULLIF(regexp_extract(json_extract_scalar(context, '$.page.url'), 'utm_campaign=([^&#]+)', 1), ''))`,
    from: (r) => {
      const name = scalar(at(r.context, ['campaign', 'name']));
      if (name) return name;
      const url = scalar(at(r.context, ['page', 'url']));
      return (url === null ? undefined : UTM_CAMPAIGN.exec(url)?.[1]) || null;
    },
  },
];

/** Column name -> SQL type for views that expose derived columns (the others are varchar). */
export const DERIVED_VIEW_TYPES: Readonly<Record<string, string>> = Object.fromEntries(
  DERIVED_EVENT_COLUMNS.filter((c) => c.type !== 'string').map((c) => [
    c.name,
    c.type === 'timestamp' ? 'timestamp(3)' : c.type,
  ]),
);
