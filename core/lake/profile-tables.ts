import { changeSourceSql, type Day, NO_CHANGES_FRONTIER } from './change-columnar.js';
import { DERIVED_VIEW_TYPES } from './derived-columns.js';
import type { ChangeTable } from './profile-changes.js';
import type { LakeColumn } from './tables.js';

/**
 * The change tables' columns (Glue and DuckDB) and the current-state views over them. The views are
 * plain SQL that Athena (Trino) and DuckDB run alike: the latest change per key wins.
 */
const s = (name: string, json = false): LakeColumn => ({ name, type: 'string', field: name, json });

export const CHANGE_TABLE_COLUMNS: Readonly<Record<ChangeTable, readonly LakeColumn[]>> = {
  profile_changes: [
    s('profile_id'),
    s('changed_at'),
    s('merged_into'),
    s('traits', true),
    s('computed', true),
    s('consent', true),
    s('identities', true),
    s('created_at'),
    s('updated_at'),
  ],
  identity_changes: [s('identity_type'), s('identity_value'), s('profile_id'), s('changed_at')],
  merge_changes: [s('survivor'), s('loser'), s('decision'), s('merged_at'), s('recorded_at')],
  membership_changes: [s('segment_id'), s('profile_id'), s('kind'), s('changed_at'), s('delta_id'), s('run')],
};

export const CHANGE_PARTITION_KEYS = ['dt'] as const;

export interface LakeView {
  readonly name: string;
  readonly comment: string;
  readonly columns: readonly string[];
  readonly sql: string;
  /** SQL types of the columns that are not varchar. */
  readonly types?: Readonly<Record<string, string>>;
  /**
   * Columns of its sources the view reads whatever the query selects (keys, orderings, filters):
   * with the columns a query names, what a Parquet scan reads (the local engine's byte figures).
   */
  readonly reads?: readonly string[];
}

const changeColumns = (table: ChangeTable) => CHANGE_TABLE_COLUMNS[table].map((c) => c.name);
/** A change table as a view's source: Parquet below the change frontier, JSON from it on. */
const source = (table: ChangeTable, frontier: Day) =>
  `${changeSourceSql(table, changeColumns(table), frontier)} ${table}`;

/** Live profiles: the latest change of each profile id, unless that change merged it into another. */
const PROFILES = (f: Day): LakeView => ({
  name: 'profiles',
  comment: 'Current profiles (merged-away and deleted ones excluded)',
  columns: [
    'profile_id',
    'traits',
    'computed',
    'consent',
    'identities',
    'created_at',
    'updated_at',
    'changed_at',
  ],
  sql: `SELECT profile_id, traits, computed, consent, identities, created_at, updated_at, changed_at
FROM (
  SELECT *, row_number() OVER (PARTITION BY profile_id ORDER BY changed_at DESC, updated_at DESC, merged_into DESC NULLS LAST) AS rn
  FROM ${source('profile_changes', f)}
) latest
WHERE rn = 1 AND merged_into IS NULL`,
  reads: ['profile_id', 'changed_at', 'updated_at', 'merged_into'],
});

/** Each identifier and the profile it belongs to now (survivors re-record every identifier they hold). */
const IDENTITIES = (f: Day): LakeView => ({
  name: 'identities',
  comment: 'Current identity graph: identifier -> profile',
  columns: ['identity_type', 'identity_value', 'profile_id', 'changed_at'],
  sql: `SELECT identity_type, identity_value, profile_id, changed_at
FROM (
  SELECT *, row_number() OVER (PARTITION BY identity_type, identity_value ORDER BY changed_at DESC, profile_id) AS rn
  FROM ${source('identity_changes', f)}
) latest
WHERE rn = 1`,
  reads: ['identity_type', 'identity_value', 'profile_id', 'changed_at'],
});

/** Every merge decision once (a replayed batch records it again). */
const MERGES = (f: Day): LakeView => ({
  name: 'merges',
  comment: 'Merge decisions: survivor, loser, merged or blocked, when',
  columns: ['survivor', 'loser', 'decision', 'merged_at', 'recorded_at'],
  sql: `SELECT survivor, loser, decision, merged_at, min(recorded_at) AS recorded_at
FROM ${source('merge_changes', f)}
GROUP BY survivor, loser, decision, merged_at`,
  reads: ['survivor', 'loser', 'decision', 'merged_at'],
});

/** Membership per segment and profile: member or former, with when it last entered and exited. */
const SEGMENT_MEMBERSHIPS = (f: Day): LakeView => ({
  name: 'segment_memberships',
  comment: 'Segment membership now: status member/former, entered_at, exited_at',
  columns: ['segment_id', 'profile_id', 'status', 'entered_at', 'exited_at'],
  sql: `SELECT segment_id, profile_id,
  CASE WHEN kind = 'exited' THEN 'former' ELSE 'member' END AS status,
  entered_at,
  CASE WHEN kind = 'exited' THEN changed_at END AS exited_at
FROM (
  SELECT segment_id, profile_id, kind, changed_at,
    max(CASE WHEN kind = 'entered' THEN changed_at END) OVER (PARTITION BY segment_id, profile_id) AS entered_at,
    row_number() OVER (PARTITION BY segment_id, profile_id ORDER BY changed_at DESC, kind DESC) AS rn
  FROM ${source('membership_changes', f)}
  WHERE kind IN ('entered', 'exited')
) latest
WHERE rn = 1`,
  reads: ['segment_id', 'profile_id', 'kind', 'changed_at'],
});

/**
 * Every event with the profile it belongs to now, following merges: the profile of the identifier it
 * resolves by (its userId, else its anonymousId: the processor's default priority), joined on the
 * derived `identity_type`/`identity_value` columns (one id string per row on Parquet). An event whose
 * userId is in no profile (its person was deleted, or the processor set it aside) has none.
 */
export const PROFILE_EVENTS_VIEW = (
  eventColumns: readonly string[],
  types: Readonly<Record<string, string>> = DERIVED_VIEW_TYPES,
): LakeView => ({
  name: 'profile_events',
  comment: 'Events with their current canonical profile_id',
  columns: [...eventColumns, 'profile_id'],
  types,
  sql: `SELECT ${eventColumns.map((c) => `e."${c}"`).join(', ')}, i.profile_id
FROM events e
LEFT JOIN identities i ON i.identity_type = e.identity_type AND i.identity_value = e.identity_value`,
  reads: ['identity_type', 'identity_value'],
});

/** The current-state views for a change frontier (`change-columnar.ts`); the compactor moves it. */
export const profileViews = (changeFrontier: Day = NO_CHANGES_FRONTIER): readonly LakeView[] =>
  [PROFILES, IDENTITIES, MERGES, SEGMENT_MEMBERSHIPS].map((v) => v(changeFrontier));

/**
 * Before any compaction: every change read from JSON (what a deploy creates). Pure: only the stack
 * uses it, and bundles that do not (the compactor) drop it and its cost at import.
 */
export const PROFILE_VIEWS: readonly LakeView[] = /* @__PURE__ */ profileViews();
