import { type GraphChanges, type GraphSnapshot, IdentityGraph } from '../identity/graph.js';
import { derivedProfileId, type IdentityConfig, identityKey } from '../identity/identifiers.js';
import { ConflictError, type DedupeStore, type GraphStore, type TimelineMessage } from '../identity/store.js';
import type { MergedAwayProfile, Profile, ProfileChangeListener } from '../profiles/profile.js';
import {
  type EventPosition,
  holdsRecord,
  type ProfileState,
  timelinesToSearch,
  toProfile,
} from '../profiles/state.js';
import type { CanonicalEvent } from './normalize.js';

export interface PipelineDeps {
  readonly graph: GraphStore;
  readonly dedupe: DedupeStore;
  readonly config: IdentityConfig;
  readonly listeners?: readonly ProfileChangeListener[];
  /** Attempts when concurrent consumers keep winning the same profiles. */
  readonly maxAttempts?: number;
  /** Waits before recomputing after a lost race (default: random, growing with the attempt). */
  readonly backoff?: (attempt: number) => Promise<void>;
}

// Random so two consumers fighting over one person do not collide in lockstep.
const randomBackoff = (attempt: number) =>
  new Promise<void>((r) => setTimeout(r, Math.random() * 20 * attempt));

export interface PipelineResult {
  readonly applied: number;
  readonly duplicates: number;
  readonly merges: number;
  readonly blockedMerges: number;
  readonly attempts: number;
  readonly changes?: GraphChanges;
}

export const dedupeKey = (e: Pick<CanonicalEvent, 'sourceId' | 'messageId'>) =>
  `${e.sourceId}#${e.messageId}`;

/**
 * Where a batch came from. `lane` is consumed one batch at a time (a Kinesis shard with a
 * parallelization factor of 1); `batch` names the delivery by its first record, so a batch delivered
 * again after a failure has the same name; `offsets[i]` is the position of `events[i]` in the delivery
 * (records that were set aside before do not shift the others).
 */
export interface BatchOrigin {
  readonly lane: string;
  readonly batch: string;
  readonly offsets?: readonly number[];
}

/**
 * For callers without a stream (tests, benchmarks): the same events always make the same batch. One
 * lane, so one caller at a time; concurrent callers must name their own lanes.
 */
export function directOrigin(events: readonly CanonicalEvent[]): BatchOrigin {
  let h = 0;
  for (const e of events)
    for (let i = 0; i < e.messageId.length; i++) h = (h * 31 + e.messageId.charCodeAt(i)) | 0;
  return { lane: 'direct', batch: `${events.length}-${(h >>> 0).toString(36)}` };
}

/**
 * Where each message would be if a committed batch had applied it and the profile no longer held its
 * hash: the timeline of the profile its identifiers resolve to now, or of a profile merged into that
 * one since (timeline items stay under the id they were written to). Only where such a copy can be
 * (`timelinesToSearch`): not for a message dated more than the window after every message the profile
 * let go of (a person's few events a day read no timeline), nor under ids merged away too long before
 * it (a browser merged into its person months ago). New identifiers have no timeline, and need none.
 */
export function timelineLookups(
  events: readonly CanonicalEvent[],
  snapshot: GraphSnapshot,
  windowMs?: number,
): Map<string, TimelineMessage[]> {
  const lookups = new Map<string, TimelineMessage[]>();
  for (const e of events) {
    const message = { sourceId: e.sourceId, messageId: e.messageId, timestamp: e.timestamp };
    const ids = new Set<string>();
    for (const identity of e.identities) {
      const root = snapshot.nodes.get(identityKey(identity));
      const profile = root === undefined ? undefined : snapshot.profiles.get(root);
      if (root === undefined || !profile) continue;
      for (const id of timelinesToSearch(profile, e.timestamp, windowMs)) ids.add(id);
    }
    for (const id of ids) lookups.set(id, [...(lookups.get(id) ?? []), message]);
  }
  return lookups;
}

/**
 * The profiles these events' people are probably stored under: the ids their identifiers of the
 * highest-priority type derive (an identified person is named by their user id, and keeps it).
 */
export function likelyRoots(events: readonly CanonicalEvent[], config: IdentityConfig): string[] {
  const top = config.priority[0];
  return [
    ...new Set(events.flatMap((e) => e.identities.filter((i) => i.type === top).map(derivedProfileId))),
  ];
}

/**
 * Processes a batch of canonical events (in stream order) into profiles: drops duplicates, resolves
 * identities for the whole batch against one snapshot (one read round and one write per person, not
 * per event), commits with conditional writes and recomputes from fresh state if another consumer won
 * a race. A message is a duplicate when a committed batch put it on a timeline (a client's retry, a
 * record delivered again after its batch had finished); one applied by a commit that failed before
 * its timeline items were written is recognised by the profile itself (`applied` offsets for the
 * batch in flight, `recentHashes` for the same message at another stream position).
 */
export async function processBatch(
  events: readonly CanonicalEvent[],
  deps: PipelineDeps,
  now: Date,
  origin: BatchOrigin = directOrigin(events),
): Promise<PipelineResult> {
  const unique: Array<{ event: CanonicalEvent; position: EventPosition }> = [];
  const inBatch = new Set<string>();
  events.forEach((e, i) => {
    const key = dedupeKey(e);
    if (inBatch.has(key)) return;
    inBatch.add(key);
    unique.push({
      event: e,
      position: { lane: origin.lane, batch: origin.batch, offset: origin.offsets?.[i] ?? i },
    });
  });
  if (unique.length === 0) return { applied: 0, duplicates: 0, merges: 0, blockedMerges: 0, attempts: 0 };

  // The first snapshot is read eventually consistent (half the read units): it says which timelines to
  // look at and is what the batch is first resolved against. Nothing is committed on trust in it: every
  // profile written is conditional on the version read, every redirect on its loser's, every new node
  // on not existing (one transaction per person, `DynamoProfileStore.commit`), so a decision taken on a
  // stale read fails its write and the batch is resolved again on a consistent read. Decisions that
  // write nothing are safe on a stale read too: a profile's identifiers and applied messages only grow,
  // so a stale read never finds a merge limit broken, or a message applied, that a fresh one would not.
  const first = await deps.graph.load(
    unique.flatMap((f) => f.event.identities),
    {
      consistent: false,
      likelyRoots: likelyRoots(
        unique.map((f) => f.event),
        deps.config,
      ),
    },
  );
  const seen = await deps.dedupe.seen(
    timelineLookups(
      unique.map((f) => f.event),
      first,
      deps.dedupe.windowMs,
    ),
  );
  let fresh = unique.filter((f) => !seen.has(dedupeKey(f.event)));
  // A message an earlier delivery committed may mean its listeners never ran (that delivery failed
  // after the commit): then no listener is told a state before this batch, and each compares nothing.
  let copiesCommitted = fresh.length < unique.length;
  if (fresh.length === 0) {
    await tellRedelivered(deps, redeliveredIn(first, unique), now);
    return { applied: 0, duplicates: events.length, merges: 0, blockedMerges: 0, attempts: 0 };
  }
  const identities = fresh.flatMap((f) => f.event.identities);
  const maxAttempts = deps.maxAttempts ?? 8;
  // What attempts that lost a race did commit (people committed before another lost): their merges are
  // not seen again by the next attempt, and listeners must hear of them once the batch commits.
  const carried = new CarriedChanges();
  for (let attempt = 1; ; attempt++) {
    const snapshot = attempt === 1 ? first : await deps.graph.load(identities, { consistent: true });
    if (attempt > 1) {
      // After a lost race the timelines are looked at again, consistently: a copy another consumer
      // committed meanwhile is found there even when the person has since received more messages than
      // the profile's recent hashes keep. Paid only on retries.
      const again = await deps.dedupe.seen(
        timelineLookups(
          fresh.map((f) => f.event),
          snapshot,
          deps.dedupe.windowMs,
        ),
        { consistent: true },
      );
      fresh = fresh.filter((f) => !again.has(dedupeKey(f.event)));
      copiesCommitted ||= again.size > 0;
      if (fresh.length === 0) {
        await tellRedelivered(deps, redeliveredIn(snapshot, unique), now);
        return { applied: 0, duplicates: events.length, merges: 0, blockedMerges: 0, attempts: attempt };
      }
    }
    const graph = new IdentityGraph(snapshot, deps.config, now.toISOString());
    for (const f of fresh) graph.apply(f.event, f.position);
    const changes = graph.changes();
    try {
      await deps.graph.commit(changes, now);
    } catch (err) {
      if (err instanceof ConflictError && attempt < maxAttempts) {
        carried.add(changes, snapshot, err.committed);
        await (deps.backoff ?? randomBackoff)(attempt);
        continue;
      }
      throw err;
    }
    // Losers as the snapshot held them, which is what their redirects keep: the records destinations
    // have for them were built from that data.
    const mergedAway = carried.mergedAwayWith(
      changes.redirects.flatMap((r) => {
        const state = snapshot.profiles.get(r.profileId);
        return state ? [{ profile: toProfile(state), into: r.into }] : [];
      }),
    );
    // Profiles only an earlier delivery or attempt of this batch changed are told too: it may have failed
    // before its listeners ran (nothing in `previous` for them: their state before the batch is gone).
    const written = new Set([
      ...changes.profiles.map((p) => p.state.profileId),
      ...changes.redirects.map((r) => r.profileId),
    ]);
    const redelivered = redeliveredIn(snapshot, unique)
      .filter((state) => !written.has(state.profileId))
      .map(toProfile);
    if (deps.listeners?.length && (changes.profiles.length || mergedAway.length || redelivered.length)) {
      const profiles = [...changes.profiles.map((p) => toProfile(p.state)), ...redelivered];
      const graph = {
        nodes: [...carried.nodes, ...changes.nodes],
        merges: [...carried.merges, ...changes.merges],
      };
      const previous = copiesCommitted ? undefined : previousStates(changes, snapshot);
      for (const listener of deps.listeners)
        await listener.profilesChanged(profiles, now, mergedAway, graph, previous);
    }
    return {
      applied: changes.applied.length,
      // Copies in the batch, found on a timeline, or held by the profile itself (its recent hashes, or
      // the offsets of a batch delivered again after a partial commit).
      duplicates: events.length - changes.applied.length,
      merges: changes.merges.filter((m) => m.decision === 'merged').length,
      blockedMerges: changes.merges.filter((m) => m.decision === 'blocked').length,
      attempts: attempt,
      changes,
    };
  }
}

/**
 * The parts of failed attempts' changes their store committed anyway (`ConflictError.committed`: the
 * people committed before another lost a race). The next attempt finds those people's events applied
 * and changes nothing for them (their profiles reach listeners as `redelivered`), but what they merged
 * away, linked and merged is only known here.
 */
class CarriedChanges {
  private readonly away = new Map<string, MergedAwayProfile>();
  readonly nodes: Array<GraphChanges['nodes'][number]> = [];
  readonly merges: Array<GraphChanges['merges'][number]> = [];

  add(changes: GraphChanges, snapshot: GraphSnapshot, committed: readonly string[]): void {
    const done = new Set(committed);
    for (const r of changes.redirects) {
      const state = snapshot.profiles.get(r.profileId);
      if (done.has(r.into) && state) this.away.set(r.profileId, { profile: toProfile(state), into: r.into });
    }
    this.nodes.push(...changes.nodes.filter((n) => done.has(n.profileId)));
    this.merges.push(...changes.merges.filter((m) => done.has(m.survivor)));
  }

  /** These merged-away profiles, and those carried that are not among them. */
  mergedAwayWith(now: readonly MergedAwayProfile[]): MergedAwayProfile[] {
    const ids = new Set(now.map((m) => m.profile.profileId));
    return [...now, ...[...this.away.values()].filter((m) => !ids.has(m.profile.profileId))];
  }
}

/**
 * Profiles, as a snapshot has them, holding events an earlier delivery or attempt of this very batch
 * applied (their `applied` offsets hold the event's position): it may have failed after its commit and
 * before its listeners ran. A copy of a message another batch applied is not among them.
 */
function redeliveredIn(
  snapshot: GraphSnapshot,
  batch: ReadonlyArray<{ event: CanonicalEvent; position: EventPosition }>,
): ProfileState[] {
  const out = new Map<string, ProfileState>();
  for (const { event, position } of batch)
    for (const id of event.identities) {
      const root = snapshot.nodes.get(identityKey(id));
      const state = root === undefined ? undefined : snapshot.profiles.get(root);
      if (root !== undefined && state && holdsRecord(state, position)) out.set(root, state);
    }
  return [...out.values()];
}

/** Tells listeners about profiles an earlier delivery of the batch changed (see `redeliveredIn`). */
async function tellRedelivered(
  deps: PipelineDeps,
  states: readonly ProfileState[],
  now: Date,
): Promise<void> {
  if (!deps.listeners?.length || states.length === 0) return;
  const profiles = states.map(toProfile);
  for (const listener of deps.listeners)
    await listener.profilesChanged(profiles, now, [], { nodes: [], merges: [] });
}

/**
 * The stored state before the batch of each profile it changed only with events it applied now: not a
 * profile it created, merged another into, or reached with an event an earlier delivery of the batch
 * had applied to the profile (that delivery may have failed before its listeners ran).
 */
function previousStates(changes: GraphChanges, snapshot: GraphSnapshot): Map<string, Profile> {
  const placed = new Map<string, number>();
  for (const t of changes.timeline) placed.set(t.profileId, (placed.get(t.profileId) ?? 0) + 1);
  const applied = new Map<string, number>();
  for (const a of changes.applied) applied.set(a.profileId, (applied.get(a.profileId) ?? 0) + 1);
  const mergedInto = new Set(changes.redirects.map((r) => r.into));
  const out = new Map<string, Profile>();
  for (const { state } of changes.profiles) {
    const id = state.profileId;
    const stored = snapshot.profiles.get(id);
    if (!stored || snapshot.versions.get(id) === undefined || mergedInto.has(id)) continue;
    if ((placed.get(id) ?? 0) !== (applied.get(id) ?? 0)) continue;
    out.set(id, toProfile(stored));
  }
  return out;
}
