import { createHash } from 'node:crypto';
import type { MembershipDelta } from '../segments/delta.js';

/**
 * Profile state in the lake: append-only change tables, one gzip JSON Lines object per table per
 * processor batch (or per published batch of membership deltas), so S3 requests grow with batches, not
 * with people. Current state comes from views that keep the latest change per key
 * (`profile-tables.ts`). Records are flat, with the Glue column names as fields.
 */
export const CHANGE_TABLES = [
  'profile_changes',
  'identity_changes',
  'merge_changes',
  'membership_changes',
] as const;
export type ChangeTable = (typeof CHANGE_TABLES)[number];

export type ChangeRecord = Record<string, string | number | null>;
export type ChangeBatch = Partial<Record<ChangeTable, ChangeRecord[]>>;

/** What the stream processor hands its listeners about the identity graph of one batch. */
export interface IdentityGraphChanges {
  readonly nodes: ReadonlyArray<{ identity: { type: string; value: string }; profileId: string }>;
  readonly merges: ReadonlyArray<{
    survivor: string;
    loser?: string;
    at: string;
    decision: 'merged' | 'blocked';
  }>;
}

/** The parts of a profile the lake keeps (the `Profile` contract, read structurally). */
export interface ProfileSnapshot {
  readonly profileId: string;
  readonly traits: Record<string, unknown>;
  readonly computed: Record<string, unknown>;
  readonly consent: Record<string, boolean>;
  readonly identities: ReadonlyArray<{ type: string; value: string }>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const profileRecord = (p: ProfileSnapshot, changedAt: string, mergedInto: string | null): ChangeRecord => ({
  profile_id: p.profileId,
  changed_at: changedAt,
  merged_into: mergedInto,
  traits: JSON.stringify(p.traits),
  computed: JSON.stringify(p.computed),
  consent: JSON.stringify(p.consent),
  identities: JSON.stringify(p.identities),
  created_at: p.createdAt,
  updated_at: p.updatedAt,
});

/**
 * The change records of one processor batch. Every identifier of a changed profile is recorded as
 * pointing to it: a survivor lists the identifiers of everyone merged into it, so the latest record per
 * identifier is its current profile even when the batch's graph (the 4th listener argument) is absent.
 */
export function profileChangeRecords(
  profiles: readonly ProfileSnapshot[],
  now: Date,
  mergedAway: ReadonlyArray<{ profile: ProfileSnapshot; into: string }> = [],
  graph?: IdentityGraphChanges,
): ChangeBatch {
  const at = now.toISOString();
  const identities = new Map<string, ChangeRecord>();
  const identity = (type: string, value: string, profileId: string) =>
    identities.set(`${type}\0${value}`, {
      identity_type: type,
      identity_value: value,
      profile_id: profileId,
      changed_at: at,
    });
  // Graph nodes first: a changed profile's own list, recorded after, wins for the same identifier.
  for (const n of graph?.nodes ?? []) identity(n.identity.type, n.identity.value, n.profileId);
  for (const p of profiles) for (const i of p.identities) identity(i.type, i.value, p.profileId);

  const merges = new Map<string, ChangeRecord>();
  const merge = (survivor: string, loser: string | null, decision: string, mergedAt: string) =>
    merges.set(`${survivor}\0${loser}\0${decision}\0${mergedAt}`, {
      survivor,
      loser,
      decision,
      merged_at: mergedAt,
      recorded_at: at,
    });
  if (graph) for (const m of graph.merges) merge(m.survivor, m.loser ?? null, m.decision, m.at);
  else for (const m of mergedAway) merge(m.into, m.profile.profileId, 'merged', at);

  return {
    profile_changes: [
      ...mergedAway.map((m) => profileRecord(m.profile, at, m.into)),
      ...profiles.map((p) => profileRecord(p, at, null)),
    ],
    identity_changes: [...identities.values()],
    merge_changes: [...merges.values()],
  };
}

/** Membership changes as segmentation publishes them (entered, exited, updated). */
export function membershipChangeRecords(deltas: readonly MembershipDelta[]): ChangeBatch {
  return {
    membership_changes: deltas
      // A catch-up re-sends an old `entered` to one destination: not a change of membership.
      .filter((d) => !d.target)
      .map((d) => ({
        segment_id: d.segmentId,
        profile_id: d.profileId,
        kind: d.kind,
        changed_at: d.at,
        delta_id: d.deltaId,
        run: d.source,
      })),
  };
}

/**
 * `changes/<table>/dt=<day>/<hash>.json.gz`: the name is the content's hash, so a redelivered batch
 * with the same records overwrites its own object.
 */
export function changeObjectKey(table: ChangeTable, now: Date, body: string): string {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 32);
  return `changes/${table}/dt=${now.toISOString().slice(0, 10)}/${hash}.json.gz`;
}

/** Which change table an object key belongs to, or undefined. */
export function changeTableOfKey(key: string): ChangeTable | undefined {
  const m = /^changes\/([a-z_]+)\/dt=\d{4}-\d{2}-\d{2}\//.exec(key);
  return m && (CHANGE_TABLES as readonly string[]).includes(m[1]!) ? (m[1] as ChangeTable) : undefined;
}

/**
 * Whether a change record is about a deleted person: any of their profile ids (survivor, loser, member)
 * or identifiers. Used by deletion jobs to rewrite the change tables without them.
 */
export function changeBelongsToSubject(
  record: ChangeRecord,
  profileIds: ReadonlySet<string>,
  identifiers: ReadonlySet<string>,
): boolean {
  for (const k of ['profile_id', 'merged_into', 'survivor', 'loser'] as const) {
    const v = record[k];
    if (typeof v === 'string' && profileIds.has(v)) return true;
  }
  return (
    typeof record.identity_type === 'string' &&
    identifiers.has(`${record.identity_type}:${String(record.identity_value)}`)
  );
}
