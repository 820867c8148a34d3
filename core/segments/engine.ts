import type { Profile, TimelineEvent } from '../profiles/profile.js';
import { inParallel } from '../shared/concurrency.js';
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
  const timelines: Array<TimelineEvent[] | undefined> = [];
  const timeline = deps.timeline;
  if (timeline && segments.some((s) => s.needsTimeline))
    await inParallel(profiles, async (profile, i) => {
      timelines[i] = await timeline.timeline(profile);
    });
  const at = now.toISOString();
  const changes: MembershipChange[] = [];
  for (const [i, profile] of profiles.entries()) {
    const ctx = { profile, events: timelines[i], now: now.getTime() };
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
  // Each change is a different (segment, profile) pair with its own generation condition, so the
  // writes are independent: a bounded number in flight instead of one round trip after another.
  await inParallel(changes, async (change) => {
    if (await deps.store.apply(change)) counts[change.kind]++;
  });
  return counts;
}
