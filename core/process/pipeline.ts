import { type GraphChanges, IdentityGraph } from '../identity/graph.js';
import type { IdentityConfig } from '../identity/identifiers.js';
import { ConflictError, type DedupeStore, type GraphStore } from '../identity/store.js';
import type { ProfileChangeListener } from '../profiles/profile.js';
import { toProfile } from '../profiles/state.js';
import type { CanonicalEvent } from './normalize.js';

export interface PipelineDeps {
  readonly graph: GraphStore;
  readonly dedupe: DedupeStore;
  readonly config: IdentityConfig;
  readonly listeners?: readonly ProfileChangeListener[];
  /** Attempts when concurrent consumers keep winning the same profiles. */
  readonly maxAttempts?: number;
}

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
 * Processes a batch of canonical events (in stream order) into profiles: drops duplicates, resolves
 * identities for the whole batch against one snapshot (one read round and one write per person, not
 * per event), commits with conditional writes and recomputes from fresh state if another consumer won
 * a race. Markers are written only after the commit, so a crash replays the batch, and profiles skip
 * events they already hold.
 */
export async function processBatch(
  events: readonly CanonicalEvent[],
  deps: PipelineDeps,
  now: Date,
): Promise<PipelineResult> {
  const seen = await deps.dedupe.seen([...new Set(events.map(dedupeKey))]);
  const fresh: CanonicalEvent[] = [];
  const inBatch = new Set<string>();
  for (const e of events) {
    const key = dedupeKey(e);
    if (seen.has(key) || inBatch.has(key)) continue;
    inBatch.add(key);
    fresh.push(e);
  }
  const duplicates = events.length - fresh.length;
  if (fresh.length === 0) return { applied: 0, duplicates, merges: 0, blockedMerges: 0, attempts: 0 };

  const identities = fresh.flatMap((e) => e.identities);
  const maxAttempts = deps.maxAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    const snapshot = await deps.graph.load(identities);
    const graph = new IdentityGraph(snapshot, deps.config, now.toISOString());
    for (const e of fresh) graph.apply(e);
    const changes = graph.changes();
    try {
      await deps.graph.commit(changes, now);
    } catch (err) {
      if (err instanceof ConflictError && attempt < maxAttempts) {
        // Back off a little so two consumers fighting over one person do not collide in lockstep.
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
        continue;
      }
      throw err;
    }
    await deps.dedupe.mark([...inBatch], now);
    // Losers as the snapshot held them, which is what their redirects keep: the records destinations
    // have for them were built from that data.
    const mergedAway = changes.redirects.flatMap((r) => {
      const state = snapshot.profiles.get(r.profileId);
      return state ? [{ profile: toProfile(state), into: r.into }] : [];
    });
    if (deps.listeners?.length && (changes.profiles.length || mergedAway.length)) {
      const profiles = changes.profiles.map((p) => toProfile(p.state));
      for (const listener of deps.listeners) await listener.profilesChanged(profiles, now, mergedAway);
    }
    return {
      applied: changes.applied.length,
      duplicates,
      merges: changes.merges.filter((m) => m.decision === 'merged').length,
      blockedMerges: changes.merges.filter((m) => m.decision === 'blocked').length,
      attempts: attempt,
      changes,
    };
  }
}
