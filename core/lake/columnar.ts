import { DERIVED_EVENT_COLUMNS } from './derived-columns.js';
import { type RawPartition, rawPartition } from './layout.js';
import { RAW_EVENTS_COLUMNS, RAW_PARTITION_KEYS, toRow } from './tables.js';

/**
 * Columnar events: each closed hour of raw JSON is compacted into one Parquet file per source,
 * `columnar/events/source_id=<id>/dt=<day>/hr=<hour>/events.parquet`, same partitions as `raw/`. A
 * compaction reads the hour's raw objects and rewrites the whole file, so it is deterministic and can
 * be re-run at any time (late objects, deletions). The frontier is the first hour not yet compacted for
 * every source: the `events` view reads Parquet below it and raw JSON from it on, with plain
 * comparisons on the partition columns, so Athena prunes the other side's partitions.
 */
export const COLUMNAR_PREFIX = 'columnar/events/';
export const FRONTIER_KEY = 'columnar/frontier.json';
/** The frontier before any compaction: everything is read from raw JSON. */
export const NO_FRONTIER = '0000-01-01T00';
/** An hour is closed this long after it ends: the lake writer's buffer (at most 300 s) plus a margin. */
export const CLOSE_AFTER_MS = 15 * 60_000;

/** `YYYY-MM-DDTHH`, the hour a frontier names. */
export type Hour = string;

export const hourOf = (p: { dt: string; hr: string }): Hour => `${p.dt}T${p.hr}`;
export const hourOfDate = (d: Date): Hour => d.toISOString().slice(0, 13);
export const nextHour = (h: Hour): Hour => hourOfDate(new Date(Date.parse(`${h}:00:00.000Z`) + 3_600_000));
export const previousHour = (h: Hour): Hour =>
  hourOfDate(new Date(Date.parse(`${h}:00:00.000Z`) - 3_600_000));

/** The latest hour that can be compacted at `now`. */
export const lastClosedHour = (now: Date): Hour =>
  previousHour(hourOfDate(new Date(now.getTime() - CLOSE_AFTER_MS)));

export function isValidHour(h: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}$/.test(h) && !Number.isNaN(Date.parse(`${h}:00:00.000Z`));
}

export const columnarObjectKey = (p: RawPartition) =>
  `${COLUMNAR_PREFIX}source_id=${encodeURIComponent(p.sourceId)}/dt=${p.dt}/hr=${p.hr}/events.parquet`;

/** The message ids a compacted file holds (gzip, one per line), for later hours to drop retries. */
export const messageIdsKey = (p: RawPartition) =>
  `columnar/ids/source_id=${encodeURIComponent(p.sourceId)}/dt=${p.dt}/hr=${p.hr}.txt.gz`;

/**
 * Hours before a partition whose message ids it is deduplicated against. A client retry or a
 * redelivered stream record arrives within this window (Kinesis keeps records 24 h; Segment's dedupe
 * window is 24 h), so compacted hours need no per-query dedupe and queries never read `messageid`.
 */
export const DEDUPE_LOOKBACK_HOURS = 48;

/** Which raw objects a compacted file was built from, to notice late objects and rewrites. */
export const manifestKey = (p: RawPartition) =>
  `columnar/manifests/source_id=${encodeURIComponent(p.sourceId)}/dt=${p.dt}/hr=${p.hr}.json`;

export interface CompactionManifest {
  readonly partition: RawPartition;
  readonly objects: ReadonlyArray<{ key: string; etag: string }>;
  readonly rows: number;
  readonly compactedAt: string;
}

export function partitionOfColumnarKey(key: string): RawPartition | undefined {
  const m = /^columnar\/events\/source_id=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\//.exec(key);
  return m ? { sourceId: decodeURIComponent(m[1]!), dt: m[2]!, hr: m[3]! } : undefined;
}

export function partitionOfHour(sourceId: string, h: Hour): RawPartition {
  return rawPartition(sourceId, `${h}:00:00.000Z`);
}

/**
 * The rows of one compacted partition: raw lines as the Glue table reads them, one per messageId
 * (the earliest receivedAt, as the `events` view keeps) and none whose id an earlier compacted hour
 * already holds, sorted by time and id so the same input always gives the same file. Lines that are
 * not JSON objects are skipped (the raw table ignores them too).
 */
export type CompactedRow = Record<string, string | number | null>;

export function compactRows(
  lines: Iterable<string>,
  seenEarlier: ReadonlySet<string> = new Set(),
): CompactedRow[] {
  const byId = new Map<string, CompactedRow>();
  const anonymous: CompactedRow[] = [];
  for (const line of lines) {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) continue;
    const row: CompactedRow = toRow(RAW_EVENTS_COLUMNS, record as Record<string, unknown>);
    for (const c of DERIVED_EVENT_COLUMNS) row[c.name] = c.from(record as Record<string, unknown>);
    const id = (row.messageid as string | null) ?? null;
    if (id === null) {
      anonymous.push(row);
      continue;
    }
    if (seenEarlier.has(id)) continue;
    const seen = byId.get(id);
    if (!seen || (row.receivedat ?? '') < (seen.receivedat ?? '')) byId.set(id, row);
  }
  const key = (r: CompactedRow) => `${r.timestamp ?? ''}\0${r.messageid ?? ''}`;
  return [...byId.values(), ...anonymous].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const cols = RAW_EVENTS_COLUMNS.map((c) => `"${c.name}"`).join(', ');
const derivedNames = DERIVED_EVENT_COLUMNS.map((c) => `"${c.name}"`).join(', ');
const derivedSql = DERIVED_EVENT_COLUMNS.map((c) => `${c.sql} AS "${c.name}"`).join(',\n  ');

const before = (f: Hour) =>
  `(dt < '${f.slice(0, 10)}' OR (dt = '${f.slice(0, 10)}' AND hr < '${f.slice(11, 13)}'))`;
const from = (f: Hour) =>
  `(dt > '${f.slice(0, 10)}' OR (dt = '${f.slice(0, 10)}' AND hr >= '${f.slice(11, 13)}'))`;

export const EVENTS_VIEW_COMMENT =
  'One row per source and messageId; Parquet below the compaction frontier, raw JSON from it';

/**
 * The `events` view for a frontier: one row per source and messageId (client retries can resend a
 * message, possibly in another hour). Compacted hours are already deduplicated (within the partition
 * and against the 48 hours before it), so the Parquet side reads only the columns a query uses; raw
 * hours from the frontier on are deduplicated here. The derived columns (`derived-columns.ts`) are
 * stored in Parquet and computed from the JSON on the raw side.
 */
export function eventsViewSql(frontier: Hour = NO_FRONTIER): string {
  if (!isValidHour(frontier)) throw new RangeError(`Invalid frontier ${frontier}`);
  const partitions = RAW_PARTITION_KEYS.join(', ');
  return `SELECT ${cols}, ${derivedNames}, ${partitions} FROM events_columnar WHERE ${before(frontier)}
UNION ALL
SELECT ${cols},
  ${derivedSql},
  ${partitions}
FROM (
  SELECT *, row_number() OVER (PARTITION BY source_id, messageid ORDER BY receivedat) AS copy
  FROM raw_events WHERE ${from(frontier)}
) deduped
WHERE copy = 1`;
}
