import type { Profile, TimelineEvent } from '../profiles/profile.js';
import { inParallel } from '../shared/concurrency.js';
import type { DeltaSink, DeltaTarget, MembershipDelta } from './delta.js';
import { compile, DAY, needsTimeline, type Predicate } from './evaluate.js';
import type { Segment } from './language.js';
import { catchUpDelta, decideMembership, type MembershipChange, type MembershipState } from './membership.js';
import { compileTiming, type Timing } from './timing.js';

export interface CompiledSegment {
  readonly segment: Segment;
  readonly predicate: Predicate;
  readonly needsTimeline: boolean;
  readonly timing: Timing;
}

export const compileSegment = (segment: Segment): CompiledSegment => ({
  segment,
  predicate: compile(segment.condition),
  needsTimeline: needsTimeline(segment.condition),
  timing: compileTiming(segment.condition),
});

export interface StoredMembership {
  readonly segmentId: string;
  readonly profileId: string;
  readonly state: MembershipState;
}

export interface MembershipStore {
  memberships(
    pairs: ReadonlyArray<{ segmentId: string; profileId: string }>,
    /** Batch runs read eventually consistent (half the price); see `screenMembershipWrites`. */
    options?: { consistent?: boolean },
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
  /** The profile's timeline events; with `since`, at least those at or after it (older ones may be left out). */
  timeline(profile: Profile, since?: Date): Promise<TimelineEvent[]>;
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
  options: {
    catchUp?: { segmentId: string; target: DeltaTarget };
    /** Told, per profile, the first instant after `now` at which a segment's answer can change with time alone. */
    onNextChange?: (profileId: string, at: number) => void;
    /** Told how many timelines were read (the candidates of event conditions). */
    onTimelinesRead?: (count: number) => void;
  } = {},
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
  const nowMs = now.getTime();
  if (timeline && segments.some((s) => s.needsTimeline)) {
    // Only candidates read their timeline: a profile the other conditions or its event aggregate
    // already decide for every segment with an event condition (e.g. `plan = pro AND <event>` for a
    // free-plan profile, or "3 views in 30 days" for one who viewed 10 times last week) does not, and
    // the read reaches back only as far as the longest event window of the undecided segments.
    const reads: Array<{ index: number; since?: Date }> = [];
    for (const [index, profile] of profiles.entries()) {
      let days: number | undefined = 0;
      for (const s of segments) {
        if (!s.needsTimeline || s.timing.decideWithoutEvents({ profile, now: nowMs }) !== undefined) continue;
        const d = s.timing.eventWindowDays;
        days = days === undefined || d === undefined ? undefined : Math.max(days, d);
      }
      if (days === 0) continue;
      reads.push({ index, ...(days === undefined ? {} : { since: new Date(nowMs - days * DAY) }) });
    }
    await inParallel(reads, async ({ index, since }) => {
      timelines[index] = await timeline.timeline(profiles[index]!, since);
    });
    options.onTimelinesRead?.(reads.length);
  }
  const at = now.toISOString();
  const changes: MembershipChange[] = [];
  const catchUps: MembershipDelta[] = [];
  for (const [i, profile] of profiles.entries()) {
    const ctx = { profile, events: timelines[i], now: nowMs };
    let next: number | undefined;
    for (const s of segments) {
      counts.evaluated++;
      if (options.onNextChange) {
        const at = s.timing.nextChange(ctx);
        if (at !== undefined && (next === undefined || at < next)) next = at;
      }
      const state = current.get(`${s.segment.segmentId}/${profile.profileId}`);
      // What the profile alone decides is the answer (its timeline, when read for another segment,
      // may reach back less far than this one's window); the predicate decides the rest.
      const known = s.needsTimeline ? s.timing.decideWithoutEvents(ctx) : undefined;
      const matches = known ?? s.predicate(ctx);
      const change = decideMembership(s.segment.segmentId, profile, matches, state, at, source);
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
    if (next !== undefined) options.onNextChange?.(profile.profileId, next);
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
