import type { MembershipDelta } from '../segments/delta.js';
import { deltaIdOf } from '../segments/membership.js';

/**
 * How one delta stands at one destination (the delivery marker `DELIVERED#<destinationId>#<deltaId>`):
 * `claimed` while a worker sends it, then final: `delivered`, `skipped` (no consent), `superseded` (a later
 * change of the same person got there first) or `dead-lettered`. Markers written before claims existed
 * have no state and count as delivered.
 */
export type MarkerState = 'claimed' | 'delivered' | 'skipped' | 'superseded' | 'dead-lettered';
export interface Marker {
  readonly state: MarkerState;
  readonly owner?: string;
  /** Epoch ms after which a claim may be taken over (its worker is presumed dead). */
  readonly leaseUntil?: number;
}

/**
 * One copy of each delta id, the first: several runs (a manual run, catch-up runs, real time) can emit the
 * same change, and two copies in one batch would otherwise both be sent in the same request.
 */
export function collapseDuplicates(deltas: readonly MembershipDelta[]): {
  unique: MembershipDelta[];
  duplicates: MembershipDelta[];
} {
  const seen = new Set<string>();
  const unique: MembershipDelta[] = [];
  const duplicates: MembershipDelta[] = [];
  for (const d of deltas) {
    if (seen.has(d.deltaId)) duplicates.push(d);
    else {
      seen.add(d.deltaId);
      unique.push(d);
    }
  }
  return { unique, duplicates };
}

const RANK = { entered: 0, updated: 1, exited: 2 } as const;

/**
 * The batch with each person's changes in membership order (generation, then entered < updated <
 * exited); other people keep their places. A queue does not keep order, so a batch may hold an exit
 * ahead of the entry it ends.
 */
export function inMembershipOrder(deltas: readonly MembershipDelta[]): MembershipDelta[] {
  const slots = new Map<string, number[]>();
  deltas.forEach((d, i) => {
    const key = `${d.segmentId}\0${d.profileId}`;
    slots.set(key, [...(slots.get(key) ?? []), i]);
  });
  const out = [...deltas];
  for (const indexes of slots.values()) {
    if (indexes.length < 2) continue;
    const sorted = indexes
      .map((i) => deltas[i]!)
      .sort((a, b) => (a.generation ?? 0) - (b.generation ?? 0) || RANK[a.kind] - RANK[b.kind]);
    indexes.forEach((slot, k) => {
      out[slot] = sorted[k]!;
    });
  }
  return out;
}

/**
 * The changes of the same person next to this one in membership order, by id: the `later` one this
 * must never arrive after, and the `earlier` one that must not still be on its way when this is sent.
 * Entered and updated of generation g sit between the exits of g-1 and g, an update after the entry of
 * g; the exit of g between the entry of g and that of g+1. Deltas without a generation (queued before it existed) have none.
 */
export function neighbours(delta: MembershipDelta): { later?: string; earlier?: string } {
  const g = delta.generation;
  if (g === undefined) return {};
  const id = (kind: MembershipDelta['kind'], generation: number) =>
    deltaIdOf(delta.segmentId, delta.profileId, kind, generation, '');
  if (delta.kind === 'exited') return { later: id('entered', g + 1), earlier: id('entered', g) };
  // An update of generation g follows its own entry; an entry follows the previous exit.
  if (delta.kind === 'updated') return { later: id('exited', g), earlier: id('entered', g) };
  return { later: id('exited', g), ...(g > 1 ? { earlier: id('exited', g - 1) } : {}) };
}

export type OrderDecision = 'send' | 'superseded' | 'wait';

/**
 * Whether a delta this worker has claimed may go out now, given its neighbours' markers read after the
 * claim. Claim first, read second, on both sides: of two workers holding an entry and its exit, at least
 * one sees the other's claim, so they can never both send in the wrong order.
 * - the later change is already claimed elsewhere or done: sending this now would arrive after it, so it
 *   is superseded (the later change carries the person's current state);
 * - the earlier change is being sent by another worker: wait (retry the message), so this lands after it;
 * - otherwise send. Claims of this same worker are sent in batch order, which is membership order.
 */
export function orderDecision(
  delta: MembershipDelta,
  markers: ReadonlyMap<string, Marker>,
  owner: string,
  nowMs: number,
): OrderDecision {
  const { later, earlier } = neighbours(delta);
  const inFlightElsewhere = (m: Marker | undefined) =>
    m?.state === 'claimed' && m.owner !== owner && (m.leaseUntil ?? 0) >= nowMs;
  const laterMarker = later === undefined ? undefined : markers.get(later);
  if (laterMarker && (laterMarker.state !== 'claimed' || inFlightElsewhere(laterMarker))) {
    // A later change that was skipped (no consent) or dead-lettered never reached the destination.
    if (laterMarker.state !== 'skipped' && laterMarker.state !== 'dead-lettered') return 'superseded';
  }
  if (earlier !== undefined && inFlightElsewhere(markers.get(earlier))) return 'wait';
  return 'send';
}
