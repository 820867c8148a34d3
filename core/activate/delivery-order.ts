import type { MembershipDelta } from '../segments/delta.js';

/**
 * Where a change stands in a person's membership history in one segment, as a string that sorts like
 * the history: generation (the how-many-th entry), then entered < updated < exited, then, among the
 * updates of one generation, the time the change was decided and its id (a tie-break, so two different
 * updates never share a position). Entries and exits have one position per generation whatever their
 * `at`, so every copy of one of them (a catch-up, a second run) sits at the same place. Deltas queued
 * before generations existed sort below every generation.
 */
export function positionOf(delta: MembershipDelta): string {
  const generation = String(delta.generation ?? 0).padStart(10, '0');
  if (delta.kind !== 'updated') return `${generation}.${RANK[delta.kind]}`;
  const at = Date.parse(delta.at);
  const sequence = String(Number.isFinite(at) && at > 0 ? at : 0).padStart(15, '0');
  return `${generation}.${RANK.updated}.${sequence}.${delta.deltaId}`;
}

const RANK = { entered: 0, updated: 1, exited: 2 } as const;

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

/**
 * The batch with each person's changes in position order; other people keep their places. A queue does
 * not keep order, so a batch may hold an exit ahead of the entry it ends.
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
      .map((i) => ({ d: deltas[i]!, p: positionOf(deltas[i]!) }))
      .sort((a, b) => (a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
    indexes.forEach((slot, k) => {
      out[slot] = sorted[k]!.d;
    });
  }
  return out;
}

/**
 * What one destination already has of one person (the position marker `POS#<destinationId>#<profileId>`):
 * the highest position delivered and the ids of the last changes delivered.
 */
export interface DeliveredState {
  readonly position?: string;
  readonly recent: readonly string[];
}

/** How many delivered delta ids a position marker keeps: copies of an update can differ in `at` only. */
export const RECENT_IDS = 16;

export type Verdict = 'send' | 'duplicate' | 'superseded';

/**
 * Whether a change may go to a destination that has `delivered`. Only what sorts above the highest
 * position delivered goes out, so the destination sees each person's changes in history order and its
 * view of the person is always that of the latest change it got:
 * - the same delta id again, or another copy of the delivered entry or exit: `duplicate`;
 * - a change below the delivered position: `superseded`, dropped. It is older than something the
 *   destination already has, which carries the person's newer state; sending it would roll the
 *   destination back (an entry after its exit would leave a former member in the audience).
 */
export function verdict(delta: MembershipDelta, position: string, delivered: DeliveredState): Verdict {
  if (delivered.recent.includes(delta.deltaId)) return 'duplicate';
  if (delivered.position === undefined || position > delivered.position) return 'send';
  return position === delivered.position ? 'duplicate' : 'superseded';
}

/** The ids a position marker keeps after `sent` was delivered: the last `RECENT_IDS`. */
export function nextRecent(previous: readonly string[], sent: readonly string[]): string[] {
  return [...previous.filter((id) => !sent.includes(id)), ...sent].slice(-RECENT_IDS);
}

/**
 * Earlier receives of a queue message, as the receipts (`<messageId>#<receiveCount>`) a claim records:
 * the queue redelivers a message only once the receive before it is over, so a claim recorded under one
 * of these belongs to a worker that died, and its redelivery may take it over at once.
 */
export function staleReceipts(messageId: string, receiveCount: number): string[] {
  return Array.from({ length: Math.max(0, receiveCount - 1) }, (_, i) => `${messageId}#${i + 1}`);
}
