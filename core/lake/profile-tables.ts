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
}

/** Live profiles: the latest change of each profile id, unless that change merged it into another. */
const PROFILES: LakeView = {
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
  FROM profile_changes
) latest
WHERE rn = 1 AND merged_into IS NULL`,
};

/** Each identifier and the profile it belongs to now (survivors re-record every identifier they hold). */
const IDENTITIES: LakeView = {
  name: 'identities',
  comment: 'Current identity graph: identifier -> profile',
  columns: ['identity_type', 'identity_value', 'profile_id', 'changed_at'],
  sql: `SELECT identity_type, identity_value, profile_id, changed_at
FROM (
  SELECT *, row_number() OVER (PARTITION BY identity_type, identity_value ORDER BY changed_at DESC, profile_id) AS rn
  FROM identity_changes
) latest
WHERE rn = 1`,
};

/** Every merge decision once (a replayed batch records it again). */
const MERGES: LakeView = {
  name: 'merges',
  comment: 'Merge decisions: survivor, loser, merged or blocked, when',
  columns: ['survivor', 'loser', 'decision', 'merged_at', 'recorded_at'],
  sql: `SELECT survivor, loser, decision, merged_at, min(recorded_at) AS recorded_at
FROM merge_changes
GROUP BY survivor, loser, decision, merged_at`,
};

/** Membership per segment and profile: member or former, with when it last entered and exited. */
const SEGMENT_MEMBERSHIPS: LakeView = {
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
  FROM membership_changes
  WHERE kind IN ('entered', 'exited')
) latest
WHERE rn = 1`,
};

/**
 * Every event with the profile it belongs to now, following merges: its userId's profile, else its
 * anonymousId's (the processor's default identifier priority). Events of deleted people have none.
 */
export const PROFILE_EVENTS_VIEW = (
  eventColumns: readonly string[],
  types: Readonly<Record<string, string>> = DERIVED_VIEW_TYPES,
): LakeView => ({
  name: 'profile_events',
  comment: 'Events with their current canonical profile_id',
  columns: [...eventColumns, 'profile_id'],
  types,
  sql: `SELECT ${eventColumns.map((c) => `e."${c}"`).join(', ')}, COALESCE(u.profile_id, a.profile_id) AS profile_id
FROM events e
LEFT JOIN identities u ON u.identity_type = 'user_id' AND u.identity_value = e.userid
LEFT JOIN identities a ON a.identity_type = 'anonymous_id' AND a.identity_value = e.anonymousid`,
});

export const PROFILE_VIEWS: readonly LakeView[] = [PROFILES, IDENTITIES, MERGES, SEGMENT_MEMBERSHIPS];
