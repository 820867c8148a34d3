import type { MembershipStore, StoredMembership } from './engine.js';
import type { MembershipState } from './membership.js';

/**
 * Memberships already read together with the profiles they describe (a scan page, or a profile read
 * with its memberships): profile id → every membership it holds. A profile listed here with an empty
 * list holds none; a profile not listed is unknown.
 */
export type KnownMemberships = ReadonlyMap<string, readonly StoredMembership[]>;

/**
 * A store that answers reads of known profiles from what was already read (no second read of the same
 * items) and asks `store` for the others; writes go to `store`. Known memberships are as fresh as the
 * read that found them, which batch runs accept (see `screenMembershipWrites`).
 */
export function answeringFrom(known: KnownMemberships, store: MembershipStore): MembershipStore {
  return {
    async memberships(pairs, options) {
      const out = new Map<string, MembershipState>();
      const unknown: Array<{ segmentId: string; profileId: string }> = [];
      for (const pair of pairs) {
        const held = known.get(pair.profileId);
        if (!held) {
          unknown.push(pair);
          continue;
        }
        const found = held.find((m) => m.segmentId === pair.segmentId);
        if (found) out.set(`${pair.segmentId}/${pair.profileId}`, found.state);
      }
      if (unknown.length)
        for (const [key, state] of await store.memberships(unknown, options)) out.set(key, state);
      return out;
    },
    async membershipsOf(profileIds) {
      const unknown = profileIds.filter((id) => !known.has(id));
      const out = profileIds.flatMap((id) => known.get(id) ?? []);
      if (unknown.length) out.push(...(await store.membershipsOf(unknown)));
      return out;
    },
    apply: (change) => store.apply(change),
  };
}
