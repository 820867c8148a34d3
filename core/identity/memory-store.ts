import type { Identity } from '../profiles/profile.js';
import { emptyProfile, mergeInto, type ProfileState } from '../profiles/state.js';
import type { GraphChanges, GraphSnapshot } from './graph.js';
import { identityKey } from './identifiers.js';
import { ConflictError, type DedupeStore, type GraphStore, type TimelineMessage } from './store.js';

interface StoredProfile {
  state: ProfileState;
  version: number;
  mergedInto?: string;
}

/**
 * The graph store's semantics in memory (same conditions as the DynamoDB store), for fast property
 * tests of the identity rules and as the reference the DynamoDB store is compared against.
 */
export class MemoryGraphStore implements GraphStore, DedupeStore {
  readonly nodes = new Map<string, string>();
  readonly profiles = new Map<string, StoredProfile>();
  /** profileId → `sourceId#messageId` of its timeline items. */
  readonly timeline = new Map<string, Set<string>>();

  async load(identities: readonly Identity[]): Promise<GraphSnapshot> {
    const nodes = new Map<string, string>();
    const profiles = new Map<string, ProfileState>();
    const versions = new Map<string, number>();
    for (const id of identities) {
      const key = identityKey(id);
      const pointer = this.nodes.get(key);
      if (pointer === undefined) continue;
      const root = this.rootOf(pointer);
      nodes.set(key, root);
      if (profiles.has(root)) continue;
      const stored = this.profiles.get(root);
      let state = stored ? structuredClone(stored.state) : undefined;
      // A redirect whose survivor never received its data (failure between the two writes) is folded
      // now, even into a survivor that does not exist yet (as the DynamoDB store does).
      // Nearest the root first (see the DynamoDB store: inner redirects may already be inside outer ones).
      const hops = (id: string) => {
        let n = 0;
        for (let at = id; this.profiles.get(at)?.mergedInto; at = this.profiles.get(at)!.mergedInto!) n++;
        return n;
      };
      const redirects = [...this.profiles].sort(([a], [b]) => hops(a) - hops(b));
      for (const [id2, other] of redirects) {
        if (!other.mergedInto || !other.state || this.rootOf(id2) !== root) continue;
        state ??= emptyProfile(root, other.state.updatedAt);
        if (!state.mergedFrom.includes(id2)) mergeInto(state, other.state, state.updatedAt);
      }
      if (state) profiles.set(root, state);
      if (stored) versions.set(root, stored.version);
    }
    return { nodes, profiles, versions };
  }

  private rootOf(id: string): string {
    let root = id;
    while (this.profiles.get(root)?.mergedInto) root = this.profiles.get(root)!.mergedInto!;
    return root;
  }

  async commit(changes: GraphChanges): Promise<void> {
    for (const n of changes.nodes.filter((x) => x.isNew)) {
      const key = identityKey(n.identity);
      if (this.nodes.has(key)) throw new ConflictError(`identity exists`);
      this.nodes.set(key, n.profileId);
    }
    for (const r of changes.redirects) {
      const stored = this.profiles.get(r.profileId);
      if (r.expectedVersion === undefined) {
        // Tombstone where a profile is referenced but not created yet.
        if (stored) throw new ConflictError('tombstone');
        this.profiles.set(r.profileId, {
          state: undefined as unknown as ProfileState,
          version: 1,
          mergedInto: r.into,
        });
        continue;
      }
      if (!stored || stored.version !== r.expectedVersion || stored.mergedInto)
        throw new ConflictError('redirect');
      stored.mergedInto = r.into;
      stored.version += 1;
    }
    for (const p of changes.profiles) {
      const stored = this.profiles.get(p.state.profileId);
      if (p.expectedVersion === undefined ? stored !== undefined : stored?.version !== p.expectedVersion)
        throw new ConflictError('profile');
      this.profiles.set(p.state.profileId, {
        state: structuredClone(p.state),
        version: (p.expectedVersion ?? 0) + 1,
      });
    }
    for (const t of changes.timeline) {
      const set = this.timeline.get(t.profileId) ?? new Set<string>();
      set.add(`${t.sourceId}#${t.event.messageId}`);
      this.timeline.set(t.profileId, set);
    }
    for (const n of changes.nodes.filter((x) => !x.isNew))
      this.nodes.set(identityKey(n.identity), n.profileId);
  }

  async seen(lookups: ReadonlyMap<string, readonly TimelineMessage[]>): Promise<Set<string>> {
    const found = new Set<string>();
    for (const [profileId, messages] of lookups)
      for (const m of messages) {
        const key = `${m.sourceId}#${m.messageId}`;
        if (this.timeline.get(profileId)?.has(key)) found.add(key);
      }
    return found;
  }

  /** Live (not merged-away) profiles. */
  liveProfiles(): ProfileState[] {
    return [...this.profiles.values()].filter((p) => !p.mergedInto && p.state).map((p) => p.state);
  }
}
