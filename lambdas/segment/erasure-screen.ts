import type { ErasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import type { MembershipStore } from '../../core/segments/engine.js';

/**
 * A batch run may have read a profile just before its deletion was accepted and write its membership
 * after the erase. Each membership write is screened against the tombstones right before it is made
 * (one small counter read per change, not per profile evaluated), so from acceptance on no run writes
 * an erased person's membership back; the deltas are screened by the sink the same way.
 */
export function screenMembershipWrites<S extends MembershipStore>(
  store: S,
  gate: ErasureGate,
): MembershipStore {
  return {
    // Eventually consistent, at half the price: a batch run's reads are most of its cost (one per
    // profile and segment), and a membership a moment stale is harmless: every write is conditional on
    // the generation it read, and a change computed from a stale state carries the delta id of the one
    // already made, which activation delivers once. Real-time evaluation keeps consistent reads.
    memberships: (pairs) => store.memberships(pairs, { consistent: false }),
    membershipsOf: (profileIds) => store.membershipsOf(profileIds),
    async apply(change) {
      const [kept] = await gate.keepPeople(
        [{ profileId: change.profileId, identities: change.delta.identities, at: new Date().toISOString() }],
        'membership writes',
      );
      return kept ? store.apply(change) : false;
    },
  };
}
