import type { Profile, TimelineEvent } from '../profiles/profile.js';
import type { DeltaSink } from './delta.js';
import { compile, needsTimeline, type Predicate } from './evaluate.js';
import type { Segment } from './language.js';
import { decideMembership, type MembershipChange, type MembershipState } from './membership.js';

export interface CompiledSegment {
  readonly segment: Segment;
  readonly predicate: Predicate;
  readonly needsTimeline: boolean;
}

export const compileSegment = (segment: Segment): CompiledSegment => ({
  segment,
  predicate: compile(segment.condition),
  needsTimeline: needsTimeline(segment.condition),
});

export interface MembershipStore {
  memberships(
    pairs: ReadonlyArray<{ segmentId: string; profileId: string }>,
  ): Promise<Map<string, MembershipState>>;
  apply(change: MembershipChange): Promise<boolean>;
}

export interface TimelineSource {
  timeline(profile: Profile): Promise<TimelineEvent[]>;
}

export interface EvaluationCounts {
  evaluated: number;
  entered: number;
  exited: number;
  updated: number;
}

/**
 * Evaluates profiles against segments and applies membership changes; the same code serves batch runs
 * and real-time updates. Deltas are published before memberships are written: a crash in between
 * replays the same deltas (same ids), which activation delivers once; the reverse order could lose one.
 */
export async function evaluateProfiles(
  profiles: readonly Profile[],
  segments: readonly CompiledSegment[],
  deps: { store: MembershipStore; sink: DeltaSink; timeline?: TimelineSource },
  now: Date,
  source: string,
): Promise<EvaluationCounts> {
  const counts: EvaluationCounts = { evaluated: 0, entered: 0, exited: 0, updated: 0 };
  if (profiles.length === 0 || segments.length === 0) return counts;
  const current = await deps.store.memberships(
    profiles.flatMap((p) =>
      segments.map((s) => ({ segmentId: s.segment.segmentId, profileId: p.profileId })),
    ),
  );
  const withEvents = segments.some((s) => s.needsTimeline);
  const at = now.toISOString();
  const changes: MembershipChange[] = [];
  for (const profile of profiles) {
    const events = withEvents && deps.timeline ? await deps.timeline.timeline(profile) : undefined;
    const ctx = { profile, events, now: now.getTime() };
    for (const s of segments) {
      counts.evaluated++;
      const change = decideMembership(
        s.segment.segmentId,
        profile,
        s.predicate(ctx),
        current.get(`${s.segment.segmentId}/${profile.profileId}`),
        at,
        source,
      );
      if (change) changes.push(change);
    }
  }
  if (changes.length === 0) return counts;
  await deps.sink.publish(changes.map((c) => c.delta));
  for (const change of changes) {
    if (await deps.store.apply(change)) counts[change.kind]++;
  }
  return counts;
}
