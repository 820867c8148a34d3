import type { CanonicalEvent } from '../process/normalize.js';
import type { Identity, TimelineEvent } from '../profiles/profile.js';
import {
  addIdentities,
  applyEvent,
  type EventPosition,
  emptyProfile,
  holdsMessage,
  holdsPending,
  holdsRecord,
  mergeInto,
  type PendingEvent,
  type ProfileState,
  toTimelineEvent,
} from '../profiles/state.js';
import { derivedProfileId, type IdentityConfig, identityKey, priorityOf } from './identifiers.js';

/**
 * What the store knows about the identifiers of a batch: each known identifier's root profile, and
 * those root profiles with the version they were read at (absent for profiles that do not exist yet).
 */
export interface GraphSnapshot {
  readonly nodes: ReadonlyMap<string, string>;
  readonly profiles: ReadonlyMap<string, ProfileState>;
  readonly versions: ReadonlyMap<string, number>;
  /**
   * Identifiers that identity nodes of this batch say a root holds while its stored list does not show
   * them: left by the commit protocol before transactions (nodes written ahead of their profile), which
   * older tables may still hold. Merge limits count them; they are not written into the profile.
   */
  readonly announced?: ReadonlyMap<string, readonly Identity[]>;
  /**
   * What the store noted about each stored profile when it read it, handed back with that profile at
   * commit (`GraphChanges.profiles[].stored`): opaque here. The DynamoDB store notes which trait values
   * item the profile has, so a write whose traits did not change leaves that item alone.
   */
  readonly stored?: ReadonlyMap<string, string>;
}

export interface MergeRecord {
  readonly survivor: string;
  readonly loser?: string;
  readonly at: string;
  readonly messageId: string;
  readonly decision: 'merged' | 'blocked';
  /** For blocked merges: the limit that would have been broken, e.g. `user_id: at most 1`. */
  readonly reason?: string;
  /** Identifier types involved (types only: the history must not copy personal data around). */
  readonly identifierTypes: readonly string[];
}

/** Everything a batch changes, for the store to persist with conditional writes. */
export interface GraphChanges {
  /** Root profiles to write; `expectedVersion` undefined means "must not exist yet". */
  readonly profiles: ReadonlyArray<{ state: ProfileState; expectedVersion?: number; stored?: string }>;
  /**
   * Profiles merged away in this batch that others may reference: they become redirects to `into`.
   * `expectedVersion` undefined: the profile is referenced by an identity node but not written yet (a
   * concurrent consumer is creating it), so a redirect is created in its place, which makes that
   * consumer's create fail and recompute.
   */
  readonly redirects: ReadonlyArray<{
    profileId: string;
    into: string;
    expectedVersion?: number;
    /** Events the merged-away profile kept (`ProfileState.pending`): the store puts them on its timeline. */
    pending?: readonly PendingEvent[];
  }>;
  /**
   * Identity nodes to create (`isNew`: committed with the profile they lead to) or re-point at their
   * current root (hints, written after).
   */
  readonly nodes: ReadonlyArray<{
    identity: Identity;
    profileId: string;
    isNew: boolean;
  }>;
  /** Timeline items of every event of the batch, under the root it belongs to now. */
  readonly timeline: ReadonlyArray<{ profileId: string; sourceId: string; event: TimelineEvent }>;
  readonly merges: readonly MergeRecord[];
  /** Events that changed a profile (not replays), with the root they ended in. */
  readonly applied: ReadonlyArray<{ event: CanonicalEvent; profileId: string }>;
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * Identity resolution over a snapshot, in memory: union-find where a component is always named by the
 * smallest id derived from its identifiers of the highest-priority type it has (`priority`: a person
 * with a user id is named by it). The name is a function of the component, so every order of the same
 * events ends with the same components and the same ids, and unions commute; the profile contents
 * commute too (see `mergeInto`). Ranking by type first keeps an identified person's id for good: a new
 * email, phone or device joins the profile instead of moving it to the smaller id that identifier
 * derives (each such move was a merge, a redirect and every node re-pointed, and destinations saw the
 * person leave and enter their segments). Merge protection is the one order-dependent rule, as in
 * Segment: whichever `user_id` a profile got first keeps it.
 */
export class IdentityGraph {
  private readonly nodes = new Map<string, string>();
  private readonly identities = new Map<string, Identity>();
  private readonly profiles = new Map<string, ProfileState>();
  private readonly announced = new Map<string, Identity[]>();
  private readonly parent = new Map<string, string>();
  private readonly newNodes = new Set<string>();
  private readonly touched = new Set<string>();
  private readonly merges: MergeRecord[] = [];
  private readonly applied: Array<{ event: CanonicalEvent; root: string }> = [];
  /** Every event of the batch with the root it went to, including those an earlier attempt applied. */
  private readonly placed: Array<{ event: CanonicalEvent; root: string }> = [];

  constructor(
    private readonly snapshot: GraphSnapshot,
    private readonly config: IdentityConfig,
    private readonly now: string,
  ) {
    for (const [k, v] of snapshot.nodes) this.nodes.set(k, v);
    for (const [k, v] of snapshot.profiles) this.profiles.set(k, clone(v));
    for (const [k, v] of snapshot.announced ?? []) this.announced.set(k, [...v]);
  }

  /** What merge limits count for a root: its identifiers and those announced for it. */
  private held(root: string): Identity[] {
    return [...this.profile(root).identities, ...(this.announced.get(root) ?? [])];
  }

  private find(id: string): string {
    let root = id;
    while (this.parent.has(root)) root = this.parent.get(root)!;
    return root;
  }

  private profile(id: string): ProfileState {
    let p = this.profiles.get(id);
    if (!p) {
      p = emptyProfile(id, this.now);
      this.profiles.set(id, p);
    }
    return p;
  }

  private violation(ids: readonly Identity[]): string | undefined {
    for (const [type, max] of Object.entries(this.config.limits)) {
      const n = new Set(ids.filter((i) => i.type === type).map((i) => i.value)).size;
      if (n > max) return `${type}: at most ${max}`;
    }
    return undefined;
  }

  private attach(root: string, ids: readonly Identity[]): void {
    addIdentities(this.profile(root), ids);
    for (const id of ids) {
      const key = identityKey(id);
      if (!this.nodes.has(key)) this.newNodes.add(key);
      this.nodes.set(key, root);
      this.identities.set(key, id);
    }
  }

  /** Resolves the event's identifiers, merging or refusing to merge, and folds the event in. */
  apply(event: CanonicalEvent, position: EventPosition): void {
    const ids = event.identities;
    if (ids.length === 0) throw new Error('An event needs at least one usable identifier');
    const known = ids.filter((i) => this.nodes.has(identityKey(i)));
    const unknown = ids.filter((i) => !this.nodes.has(identityKey(i)));
    const roots = [...new Set(known.map((i) => this.find(this.nodes.get(identityKey(i))!)))];
    // An earlier attempt at this batch committed this event (and what it linked) before failing: it
    // stays where it went. With merge limits, deciding again could pick another profile (the state
    // changed in between) and count it twice.
    const holder = roots.find(
      (r) => holdsRecord(this.profile(r), position) || holdsMessage(this.profile(r), event),
    );
    if (holder !== undefined) {
      // Kept with the profile, it is on its timeline already.
      if (!holdsPending(this.profile(holder), event)) this.placed.push({ event, root: holder });
      return;
    }
    // Known identifiers count too: one may resolve to a root whose stored list does not show it yet.
    const combined = [...roots.flatMap((r) => this.held(r)), ...known, ...unknown];
    const reason = this.violation(combined);

    let target: string;
    if (reason) {
      const primary = [...ids].sort(
        (a, b) => priorityOf(this.config, a.type) - priorityOf(this.config, b.type),
      )[0]!;
      const primaryKey = identityKey(primary);
      target = this.nodes.has(primaryKey)
        ? this.find(this.nodes.get(primaryKey)!)
        : derivedProfileId(primary);
      const fitting: Identity[] = [];
      for (const id of unknown) {
        if (!this.violation([...this.held(target), ...fitting, id])) fitting.push(id);
      }
      this.attach(target, fitting);
      this.merges.push({
        survivor: target,
        at: event.timestamp,
        messageId: event.messageId,
        decision: 'blocked',
        reason,
        identifierTypes: [...new Set(ids.map((i) => i.type))].sort(),
      });
    } else {
      // The component's name: the smallest id derived from its identifiers of the highest-priority
      // type it has. A root is named so already (or, written before this rule, by its smallest derived
      // id: it keeps that name), so the best-ranked candidate names the whole component.
      const rankOf = (root: string) =>
        Math.min(
          ...[
            ...this.held(root),
            ...known.filter((i) => this.find(this.nodes.get(identityKey(i))!) === root),
          ].map((i) => priorityOf(this.config, i.type)),
        );
      const candidates = [
        ...roots.map((id) => ({ id, rank: rankOf(id) })),
        ...unknown.map((i) => ({ id: derivedProfileId(i), rank: priorityOf(this.config, i.type) })),
      ].sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      target = candidates[0]!.id;
      const survivor = this.profile(target);
      for (const r of roots) {
        if (r === target) continue;
        mergeInto(survivor, this.profile(r), this.now);
        const announced = this.announced.get(r);
        if (announced) this.announced.set(target, [...(this.announced.get(target) ?? []), ...announced]);
        this.parent.set(r, target);
        this.profiles.delete(r);
        this.touched.delete(r);
        this.merges.push({
          survivor: target,
          loser: r,
          at: event.timestamp,
          messageId: event.messageId,
          decision: 'merged',
          identifierTypes: [...new Set(ids.map((i) => i.type))].sort(),
        });
      }
      this.attach(target, unknown);
    }
    // Known identifiers whose profile was still being created elsewhere are not in any identities list yet.
    addIdentities(
      this.profile(target),
      ids.filter((i) => {
        const node = this.nodes.get(identityKey(i));
        return node !== undefined && this.find(node) === target;
      }),
    );
    this.touched.add(target);
    if (applyEvent(this.profile(target), event, position, this.now))
      this.applied.push({ event, root: target });
    this.placed.push({ event, root: target });
  }

  changes(): GraphChanges {
    const roots = new Set([...this.touched].map((id) => this.find(id)));
    const profiles = [...roots].map((id) => ({
      state: this.profiles.get(id)!,
      expectedVersion: this.snapshot.versions.get(id),
      ...(this.snapshot.stored?.has(id) ? { stored: this.snapshot.stored.get(id)! } : {}),
    }));
    // Every merged-away id that anyone else can reach must become a redirect: stored profiles (on their
    // version), and ids that stored identity nodes point to while their profile does not exist yet (a
    // consumer created the nodes and is about to create the profile). Skipping the latter let that
    // consumer's create succeed afterwards, bringing a merged-away profile back to life.
    const referenced = new Set(this.snapshot.nodes.values());
    const redirects = [...this.parent.keys()]
      .filter((id) => this.snapshot.versions.has(id) || referenced.has(id))
      .map((id) => {
        const into = this.find(id);
        const pending = this.snapshot.profiles.get(id)?.pending;
        return {
          profileId: id,
          into,
          ...(this.snapshot.versions.has(id) ? { expectedVersion: this.snapshot.versions.get(id)! } : {}),
          ...(pending?.length ? { pending } : {}),
        };
      });
    const nodes: Array<GraphChanges['nodes'][number]> = [];
    for (const [key, id] of this.nodes) {
      const root = this.find(id);
      const isNew = this.newNodes.has(key);
      if (isNew || root !== this.snapshot.nodes.get(key)) {
        nodes.push({ identity: this.identities.get(key) ?? identityFromKey(key), profileId: root, isNew });
      }
    }
    const applied = this.applied.map(({ event, root }) => ({ event, profileId: this.find(root) }));
    return {
      profiles,
      redirects,
      nodes,
      // Written after the profiles, so a failed attempt leaves no event under a profile it did not
      // commit; written for events an earlier attempt applied too, whose items may be missing.
      timeline: this.placed.map(({ event, root }) => ({
        profileId: this.find(root),
        // Kept on the item: it is the dedupe record of (source, messageId) too.
        sourceId: event.sourceId,
        event: toTimelineEvent(event),
      })),
      merges: this.merges.map((m) => ({ ...m, survivor: this.find(m.survivor) })),
      applied,
    };
  }
}

function identityFromKey(key: string): Identity {
  const i = key.indexOf('#');
  return { type: key.slice(0, i), value: key.slice(i + 1) };
}
