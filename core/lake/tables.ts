import { DERIVED_EVENT_COLUMNS } from './derived-columns.js';

/**
 * The lake's table schemas, written once for the Glue catalog (Athena) and the local DuckDB engine.
 * Nested objects (`properties`, `traits`, `context`, `integrations`) are JSON strings: Athena's OpenX
 * JSON SerDe returns nested JSON as text for string columns, and both engines extract fields with
 * JSON functions.
 */
export interface LakeColumn {
  readonly name: string;
  /** Glue/Hive type; DuckDB gets the matching type from `duckType`. */
  readonly type: 'string' | 'bigint' | 'double' | 'timestamp';
  /** The JSON field it reads (OpenX matching is case-insensitive, DuckDB rows are built from it). */
  readonly field: string;
  readonly json?: boolean;
}

const s = (name: string, field = name, json = false): LakeColumn => ({ name, type: 'string', field, json });

export const RAW_EVENTS_COLUMNS: readonly LakeColumn[] = [
  s('messageid', 'messageId'),
  s('type'),
  s('event'),
  s('name'),
  s('userid', 'userId'),
  s('anonymousid', 'anonymousId'),
  s('groupid', 'groupId'),
  s('previousid', 'previousId'),
  s('timestamp'),
  s('originaltimestamp', 'originalTimestamp'),
  s('sentat', 'sentAt'),
  s('receivedat', 'receivedAt'),
  s('sourceid', 'sourceId'),
  s('properties', 'properties', true),
  s('traits', 'traits', true),
  s('context', 'context', true),
  s('integrations', 'integrations', true),
];

export const QUARANTINE_COLUMNS: readonly LakeColumn[] = [
  s('stage'),
  s('reason'),
  s('details'),
  s('sourceid', 'sourceId'),
  s('messageid', 'messageId'),
  s('quarantinedat', 'quarantinedAt'),
  s('origin'),
  s('raw'),
];

export const RAW_PARTITION_KEYS = ['source_id', 'dt', 'hr'] as const;
export const QUARANTINE_PARTITION_KEYS = ['stage', 'dt', 'hr'] as const;

/** A lake record as a flat row of the table, the way the SerDe reads it. */
export function toRow(
  columns: readonly LakeColumn[],
  record: Record<string, unknown>,
): Record<string, string | null> {
  const row: Record<string, string | null> = {};
  for (const c of columns) {
    const v = record[c.field];
    row[c.name] =
      v === undefined || v === null ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return row;
}

/** Compacted Parquet: the raw columns, then the derived ones (typed, see `derived-columns.ts`). */
export const COLUMNAR_EVENTS_COLUMNS: readonly LakeColumn[] = [
  ...RAW_EVENTS_COLUMNS,
  ...DERIVED_EVENT_COLUMNS.map((c) => ({ name: c.name, type: c.type, field: c.name })),
];

/** The `events` view's columns (see `eventsViewSql` in `columnar.ts`). */
export const EVENTS_VIEW_COLUMNS: readonly string[] = [
  ...COLUMNAR_EVENTS_COLUMNS.map((c) => c.name),
  ...RAW_PARTITION_KEYS,
];
