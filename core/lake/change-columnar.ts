import { CHANGE_TABLES, type ChangeRecord, type ChangeTable } from './profile-changes.js';
import { type LakeColumn, toRow } from './tables.js';

/**
 * Change tables in Parquet: each closed day of a change table's gzip JSON objects
 * (`changes/<table>/dt=<day>/`) is compacted into one Parquet file,
 * `columnar/changes/<table>/dt=<day>/changes.parquet` (Glue: `<table>_columnar`). Like events, a
 * compaction reads the day's objects and rewrites the whole file, so it is deterministic and can be
 * re-run at any time (late objects, deletions). The change frontier is the first day not yet
 * compacted: the current-state views read Parquet below it and JSON from it on.
 *
 * Days, not hours: change objects are partitioned by `dt` only (one object per processor batch), and
 * a day's file keeps every change of a profile together, which is what makes its ids cheap to store.
 */
export const CHANGES_COLUMNAR_PREFIX = 'columnar/changes/';
export const CHANGES_FRONTIER_KEY = 'columnar/changes-frontier.json';
/** The change frontier before any compaction: every change is read from JSON. */
export const NO_CHANGES_FRONTIER = '0000-01-01';
/** A day is closed this long after it ends: change objects are written as their batch commits. */
export const CHANGES_CLOSE_AFTER_MS = 15 * 60_000;

/** `YYYY-MM-DD`. */
export type Day = string;

export const dayOfDate = (d: Date): Day => d.toISOString().slice(0, 10);
export const nextDay = (d: Day): Day => dayOfDate(new Date(Date.parse(`${d}T00:00:00.000Z`) + 86_400_000));
export const previousDay = (d: Day): Day =>
  dayOfDate(new Date(Date.parse(`${d}T00:00:00.000Z`) - 86_400_000));
/** The latest day that can be compacted at `now`. */
export const lastClosedDay = (now: Date): Day =>
  previousDay(dayOfDate(new Date(now.getTime() - CHANGES_CLOSE_AFTER_MS)));

export function isValidDay(d: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(d) && dayOfDate(new Date(`${d}T00:00:00.000Z`)) === d;
}

export const changePartitionPrefix = (table: ChangeTable, day: Day) => `changes/${table}/dt=${day}/`;
export const changeColumnarKey = (table: ChangeTable, day: Day) =>
  `${CHANGES_COLUMNAR_PREFIX}${table}/dt=${day}/changes.parquet`;
/** Which JSON objects a compacted day was built from, to notice late objects and rewrites. */
export const changeManifestKey = (table: ChangeTable, day: Day) =>
  `columnar/change-manifests/${table}/dt=${day}.json`;

export const columnarChangeTable = (table: ChangeTable) => `${table}_columnar`;

/**
 * Row order in a compacted file: the ids a table is read by first, so the changes of one profile (or
 * segment) sit together and their random-looking ids compress to one dictionary entry and a run,
 * instead of costing their full length on every row as in the per-batch JSON objects.
 */
export const CHANGE_SORT_KEYS: Readonly<Record<ChangeTable, readonly string[]>> = {
  profile_changes: ['profile_id', 'changed_at', 'updated_at', 'merged_into'],
  identity_changes: ['profile_id', 'identity_type', 'identity_value', 'changed_at'],
  merge_changes: ['decision', 'survivor', 'loser', 'merged_at', 'recorded_at'],
  membership_changes: ['segment_id', 'profile_id', 'changed_at', 'kind', 'delta_id'],
};

const compare = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1;

/**
 * The rows of one compacted day: every JSON line of the day's objects as the Glue table reads it (the
 * same columns, every value text), in a fixed order, so the same objects always give the same file.
 * Nothing is deduplicated: the table keeps the meaning of the JSON table, and the views pick the
 * latest change per key on both. Lines that are not JSON objects are skipped, as the SerDe skips them.
 */
export function compactChangeRows(
  table: ChangeTable,
  columns: readonly LakeColumn[],
  lines: Iterable<string>,
): ChangeRecord[] {
  const rows: Array<Record<string, string | null>> = [];
  for (const line of lines) {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) continue;
    rows.push(toRow(columns, record as Record<string, unknown>));
  }
  const keys = [...CHANGE_SORT_KEYS[table], ...columns.map((c) => c.name)];
  return rows.sort((a, b) => {
    for (const k of keys) {
      const c = compare(a[k] ?? null, b[k] ?? null);
      if (c !== 0) return c;
    }
    return 0;
  });
}

export const isChangeTable = (name: string): name is ChangeTable =>
  (CHANGE_TABLES as readonly string[]).includes(name);

/** `columnar/changes/<table>/dt=<day>/...` back into its table and day. */
export function partitionOfChangeColumnarKey(key: string): { table: ChangeTable; day: Day } | undefined {
  const m = /^columnar\/changes\/([a-z_]+)\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key);
  return m && isChangeTable(m[1]!) ? { table: m[1], day: m[2]! } : undefined;
}

/** `changes/<table>/dt=<day>/...` back into its table and day. */
export function partitionOfChangeKey(key: string): { table: ChangeTable; day: Day } | undefined {
  const m = /^changes\/([a-z_]+)\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key);
  return m && isChangeTable(m[1]!) ? { table: m[1], day: m[2]! } : undefined;
}

/**
 * A change table as the views read it: Parquet below the frontier, JSON from it on, with plain
 * comparisons on `dt` so Athena prunes the other side's partitions.
 */
export function changeSourceSql(
  table: ChangeTable,
  columns: readonly string[],
  frontier: Day = NO_CHANGES_FRONTIER,
): string {
  if (!isValidDay(frontier)) throw new RangeError(`Invalid change frontier ${frontier}`);
  const cols = [...columns.map((c) => `"${c}"`), 'dt'].join(', ');
  return `(SELECT ${cols} FROM ${columnarChangeTable(table)} WHERE dt < '${frontier}'
  UNION ALL SELECT ${cols} FROM ${table} WHERE dt >= '${frontier}')`;
}
