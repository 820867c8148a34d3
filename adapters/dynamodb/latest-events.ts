import type { PendingEvent, ProfileState } from '../../core/profiles/state.js';
import { eventKey, type TimelineEntry } from './timeline-item.js';

/**
 * A person's latest events ride on their profile item until it is full, then go to the timeline
 * together, as one item.
 *
 * Why: every batch that reaches a person rewrites their profile item (counts, aggregates, hashes), one
 * write unit while it stays under 1 KB. A browser sends one event per request, and a person's events
 * rarely meet in one stream batch, so each event also paid a timeline item of its own: two write
 * units per event, the largest part of what browser traffic costs. Kept in the profile item while
 * they fit in the write it pays for anyway, the events cost nothing more until they are written to
 * the timeline, several in one item (one write unit, and DynamoDB's per-item storage overhead once).
 *
 * The plan for one profile write (`planLatestEvents`):
 * - the events kept stay, with the batch's new ones, when the item still fits one write unit;
 * - otherwise the kept ones go to the timeline **before** the profile write that lets them go: they
 *   were committed with the profile, and a write that lets go of them must find them on the timeline
 *   (an attempt that then loses its race leaves items of events its profile already holds; readers
 *   take each message once);
 * - the batch's new events are kept alone when they fit, else written to the timeline **after** the
 *   profile write, as before (an attempt that loses its race must leave no event under a profile it
 *   did not write: dedupe takes an event on a timeline for applied), and then the kept ones stay
 *   while they still fit.
 * Events past the timeline's retention are let go, never written.
 *
 * Readers (Profile API, segment event conditions, erasure's counts, the identity checker) take the
 * kept events of the live profile as part of its timeline; dedupe finds them with the profile
 * (`holdsMessage`). A merge writes the loser's kept events to the loser's timeline first (its items
 * stay under its id, where readers of the survivor look).
 */

/** Most events kept with a profile: a person's last few, whatever their size. */
export const LATEST_EVENTS_MAX = 8;

export interface LatestEventsPlan {
  /** Events kept with the profile by this write. */
  readonly kept: PendingEvent[];
  /** Events the profile held, to write to its timeline before the profile write lets them go. */
  readonly before: PendingEvent[];
  /** Events of the batch to write to the timeline after the profile write. */
  readonly after: PendingEvent[];
}

const keyOf = (p: PendingEvent) => `${p.sourceId}\u0000${p.event.messageId}`;

/**
 * Where a profile write puts its events: `held`, the events the stored profile keeps; `incoming`, the
 * batch's events for it (those already held are not written again); `fits`, whether the profile item
 * with these events kept is within one write unit.
 */
export function planLatestEvents(
  held: readonly PendingEvent[],
  incoming: readonly PendingEvent[],
  nowSeconds: number,
  fits: (kept: PendingEvent[]) => boolean,
): LatestEventsPlan {
  const live = held.filter((p) => p.expiresAt > nowSeconds);
  const known = new Set(live.map(keyOf));
  const fresh = incoming.filter((p) => !known.has(keyOf(p)) && known.add(keyOf(p)));
  const all = byEventKey([...live, ...fresh]);
  if (all.length <= LATEST_EVENTS_MAX && fits(all)) return { kept: all, before: [], after: [] };
  const alone = byEventKey(fresh);
  if (alone.length > 0 && alone.length <= LATEST_EVENTS_MAX && fits(alone))
    return { kept: alone, before: live, after: [] };
  // The batch's events go to the timeline anyway (a backend's batch, analytics.js' batching): the
  // kept ones stay while they fit, rather than cost an item of their own.
  if (live.length > 0 && fits(live)) return { kept: live, before: [], after: fresh };
  return { kept: [], before: live, after: fresh };
}

/** Kept events in timeline order. */
const byEventKey = (events: PendingEvent[]) =>
  events
    .map((p) => ({ p, key: eventKey(p.event.timestamp, p.event.messageId) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ p }) => p);

/**
 * The events a live profile keeps, as timeline entries. Like timeline items DynamoDB has not deleted
 * yet, those past retention are shown until the profile's next write lets them go.
 */
export const keptEntries = (state: Pick<ProfileState, 'pending'>): TimelineEntry[] =>
  (state.pending ?? []).map((p) => ({ key: eventKey(p.event.timestamp, p.event.messageId), event: p.event }));
