import type { Profile, TimelineEvent } from '../profiles/profile.js';
import { inParallel } from '../shared/concurrency.js';
import type { DeltaSink, DeltaTarget, MembershipDelta } from './delta.js';
import { compile, needsTimeline, type Predicate } from './evaluate.js';
import type { Segment } from './language.js';
import { catchUpDelta, decideMembership, type MembershipChange, type MembershipState } from './membership.js';

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

export interface StoredMembership {
  readonly segmentId: string;
  readonly profileId: string;
  readonly state: MembershipState;
}

export interface MembershipStore {
  memberships(
    pairs: ReadonlyArray<{ segmentId: string; profileId: string }>,
  ): Promise<Map<string, MembershipState>>;
  /** Every membership stored for these profiles, in any segment, members or not. */
  membershipsOf(profileIds: readonly string[]): Promise<StoredMembership[]>;
  apply(change: MembershipChange): Promise<boolean>;
}

/** Redirects a batch run no longer needs to look at. */
export interface MergedAwayStore {
  settleMergedAway(profileIds: readonly string[], at: string): Promise<void>;
}

export interface TimelineSource {
  timeline(profile: Profile): Promise<TimelineEvent[]>;
}

export interface EvaluationCounts {
  evaluated: number;
  entered: number;
  exited: number;
  updated: number;
  /** Current members sent to a destination catching up (see `catchUpDelta`). */
  caughtUp: number;
}

const noCounts = (): EvaluationCounts => ({ evaluated: 0, entered: 0, exited: 0, updated: 0, caughtUp: 0 });

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
  options: { catchUp?: { segmentId: string; target: DeltaTarget } } = {},
): Promise<EvaluationCounts> {
  const counts = noCounts();
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
  const catchUps: MembershipDelta[] = [];
  for (const [i, profile] of profiles.entries()) {
    const ctx = { profile, events: timelines[i], now: now.getTime() };
    for (const s of segments) {
      counts.evaluated++;
      const state = current.get(`${s.segment.segmentId}/${profile.profileId}`);
      const change = decideMembership(s.segment.segmentId, profile, s.predicate(ctx), state, at, source);
      // A member who stays (or is only updated) is new to a destination catching up: it gets the
      // entered first. One who enters now gets it with everyone else; one who exits never needs it.
      const catchUp = options.catchUp;
      if (
        catchUp?.segmentId === s.segment.segmentId &&
        state?.status === 'member' &&
        change?.kind !== 'exited'
      ) {
        catchUps.push(catchUpDelta(s.segment.segmentId, profile, state, source, catchUp.target));
        counts.caughtUp++;
      }
      if (change) changes.push(change);
    }
  }
  // Before the run's own changes, so a caught-up member's update follows its entered.
  if (catchUps.length) await deps.sink.publish(catchUps);
  await publishAndApply(changes, deps, counts);
  return counts;
}

async function publishAndApply(
  changes: readonly MembershipChange[],
  deps: { store: MembershipStore; sink: DeltaSink },
  counts: EvaluationCounts,
): Promise<void> {
  if (changes.length === 0) return;
  await deps.sink.publish(changes.map((c) => c.delta));
  // Each change is a different (segment, profile) pair with its own generation condition, so the
  // writes are independent: a bounded number in flight instead of one round trip after another.
  await inParallel(changes, async (change) => {
    if (await deps.store.apply(change)) counts[change.kind]++;
  });
}

/**
 * Ends the memberships of profiles merged into others. Nothing is evaluated under a merged-away id
 * again, so it is treated as matching no segment: each membership it still holds exits, with the
 * generation condition and delta id of any exit (a repeat, or a batch run sweeping the same leftover,
 * emits the same id), carrying the data destinations got for that profile. Its survivor is evaluated
 * like any other profile and enters where it qualifies.
 */
export async function exitMergedAway(
  profiles: readonly Profile[],
  deps: { store: MembershipStore; sink: DeltaSink },
  now: Date,
  source: string,
): Promise<EvaluationCounts & { holding: Set<string> }> {
  const counts = noCounts();
  const holding = new Set<string>();
  if (profiles.length === 0) return { ...counts, holding };
  const byId = new Map(profiles.map((p) => [p.profileId, p]));
  const at = now.toISOString();
  const changes: MembershipChange[] = [];
  for (const m of await deps.store.membershipsOf([...byId.keys()])) {
    const change = decideMembership(m.segmentId, byId.get(m.profileId)!, false, m.state, at, source);
    if (!change) continue;
    holding.add(m.profileId);
    changes.push(change);
  }
  await publishAndApply(changes, deps, counts);
  return { ...counts, holding };
}

/**
 * Longer than anything that read a profile while it was live can still be writing its memberships: a
 * batch step or a stream batch is one Lambda invocation (15 minutes at most), and a retry reads the
 * profile afresh, finding the redirect.
 */
export const MERGE_SETTLE_MS = 60 * 60 * 1000;

/**
 * The batch run's sweep of merged-away profiles, so leftovers converge whatever happened at merge time
 * (the stream processor crashed before its exits, an evaluation that read the profile while it was live
 * wrote after them, the index it read was behind). Redirects are read until they are settled: merged
 * longer than MERGE_SETTLE_MS before this run and found holding no membership; then they are marked,
 * and later runs skip them, so each merged-away profile costs a few reads in all, not one per run.
 */
export async function sweepMergedAway(
  redirects: ReadonlyArray<{ profile: Profile; mergedAt?: string }>,
  deps: { store: MembershipStore & MergedAwayStore; sink: DeltaSink },
  now: Date,
  source: string,
): Promise<EvaluationCounts & { settled: number }> {
  const result = await exitMergedAway(
    redirects.map((r) => r.profile),
    deps,
    now,
    source,
  );
  const settled = redirects
    .filter(
      (r) =>
        !result.holding.has(r.profile.profileId) &&
        (r.mergedAt === undefined || Date.parse(r.mergedAt) <= now.getTime() - MERGE_SETTLE_MS),
    )
    .map((r) => r.profile.profileId);
  if (settled.length) await deps.store.settleMergedAway(settled, now.toISOString());
  const { holding: _h, ...counts } = result;
  return { ...counts, settled: settled.length };
}
