import type { Identity } from '../profiles/profile.js';
import { countKey, type ProfileState } from '../profiles/state.js';
import { identityKey } from './identifiers.js';

/**
 * The invariants of the identity graph, checked against what is stored. Each is what some conditional
 * write of the stream processor protects; a violation means a race or a partial failure got through
 * (or data was edited by hand), and `repair` in the adapter puts it right.
 *
 * - `dangling_node`: an identity node whose pointer chain ends at no profile. Normal for a moment
 *   (the consumer that created the node has not written the profile yet); a violation when it stays.
 * - `identity_missing`: a node resolves to a live root that does not list the identifier.
 * - `identity_elsewhere`: a live profile lists an identifier whose node resolves to another profile
 *   (or to none): one person split in two.
 * - `live_merged_away`: a profile listed in another live profile's `mergedFrom` is live again.
 * - `limit_exceeded`: a live profile holds more identifiers of a type than merge protection allows
 *   (`cdp:identity` limits), e.g. two user ids. Not repaired automatically: which identifiers and
 *   events belong to which person is a decision for a person; the report names the profile and type.
 * - `counts_disagree`: the timeline holds more events of a name than the computed counts say (or, for
 *   a profile whose whole history is within the timeline's retention, a different number).
 */
export type IdentityViolation =
  | { kind: 'dangling_node'; identity: Identity; pointer: string }
  | { kind: 'identity_missing'; identity: Identity; profileId: string }
  | { kind: 'identity_elsewhere'; identity: Identity; profileId: string; resolvesTo?: string }
  | { kind: 'live_merged_away'; profileId: string; listedBy: string }
  | { kind: 'limit_exceeded'; profileId: string; identifierType: string; count: number; max: number }
  | {
      kind: 'counts_disagree';
      profileId: string;
      event: string;
      timeline: number;
      computed: number;
    };

/** What the checker learned about one live profile's surroundings. */
export interface ProfileSurroundings {
  /** Root each of the profile's identifiers resolves to (undefined: no node, or no live root). */
  readonly resolved: ReadonlyMap<string, string | undefined>;
  /** The ids in `mergedFrom` that are live profiles (not redirects). */
  readonly liveMergedFrom: readonly string[];
  /** Timeline events per count key, when the timeline was read. */
  readonly timelineCounts?: Readonly<Record<string, number>>;
  /** Whether the timeline holds the whole history (first event within the retention). */
  readonly timelineComplete?: boolean;
  /** Merge protection's limits per identifier type, when configured. */
  readonly limits?: Readonly<Record<string, number>>;
}

export function checkProfile(state: ProfileState, around: ProfileSurroundings): IdentityViolation[] {
  const out: IdentityViolation[] = [];
  for (const id of state.identities) {
    const root = around.resolved.get(identityKey(id));
    if (root !== state.profileId)
      out.push({
        kind: 'identity_elsewhere',
        identity: id,
        profileId: state.profileId,
        ...(root ? { resolvesTo: root } : {}),
      });
  }
  for (const id of around.liveMergedFrom)
    out.push({ kind: 'live_merged_away', profileId: id, listedBy: state.profileId });
  for (const [identifierType, max] of Object.entries(around.limits ?? {})) {
    const count = new Set(state.identities.filter((i) => i.type === identifierType).map((i) => i.value)).size;
    if (count > max)
      out.push({ kind: 'limit_exceeded', profileId: state.profileId, identifierType, count, max });
  }
  if (around.timelineCounts) {
    const names = new Set([
      ...Object.keys(around.timelineCounts),
      ...(around.timelineComplete ? Object.keys(state.computed.event_counts) : []),
    ]);
    for (const event of names) {
      const timeline = around.timelineCounts[event] ?? 0;
      const computed = state.computed.event_counts[event] ?? 0;
      if (timeline > computed || (around.timelineComplete && timeline !== computed))
        out.push({ kind: 'counts_disagree', profileId: state.profileId, event, timeline, computed });
    }
  }
  return out;
}

/** A node whose chain ends at `root` (undefined when it ends at nothing). */
export function checkNode(
  identity: Identity,
  pointer: string,
  root: Pick<ProfileState, 'profileId' | 'identities'> | undefined,
): IdentityViolation[] {
  if (!root) return [{ kind: 'dangling_node', identity, pointer }];
  const key = identityKey(identity);
  return root.identities.some((i) => identityKey(i) === key)
    ? []
    : [{ kind: 'identity_missing', identity, profileId: root.profileId }];
}

/** Event counts as the timeline shows them, keyed like `computed.event_counts`. */
export function countTimeline(
  events: ReadonlyArray<{ type: string; event?: string }>,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) {
    const key = countKey({ type: e.type, event: e.event } as Parameters<typeof countKey>[0]);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
