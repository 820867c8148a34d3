import { createHash } from 'node:crypto';
import { addRevenue } from '../events/storage-limits.js';
import type { CanonicalEvent } from '../process/normalize.js';
import { type Activity, activityFrom, emptyActivity, mergeActivity, recordActivity } from './activity.js';
import type { ComputedTraits, Identity, Profile, TimelineEvent } from './profile.js';

/**
 * A profile as stored: the public Profile plus what makes updates order-independent and idempotent.
 * - `traitMeta` / `consentMeta` / `computedMeta`: the (timestamp, messageId) that set each value, so the
 *   latest event by event time wins whatever the arrival order (ties broken by messageId).
 * - `applied`: which records of the stream batch in flight on each lane (a shard) are already folded
 *   in, so re-running a batch after a partial commit changes nothing (see `EventPosition`).
 * - `mergedFrom`: every profile id folded into this one (timeline items stay under those ids).
 */
export type Stamp = readonly [timestamp: string, messageId: string];

export interface ProfileState extends Profile {
  traitMeta: Record<string, Stamp>;
  consentMeta: Record<string, Stamp>;
  computedMeta: { last_page?: Stamp; last_screen?: Stamp };
  mergedFrom: string[];
  applied: AppliedRecords;
  /**
   * Short hashes of the last messages applied (a bounded set, not a growing list): the guard for a
   * message delivered again at another stream position before its dedupe marker was written (a
   * consumer killed between the profile write and the marker, whose records the stream then replays).
   */
  recentHashes: string[];
  /**
   * Every message folded into this profile (or into a profile merged into it) whose hash is no longer
   * in `recentHashes` is dated at or before this; `''` when no hash was ever let go. With it, dedupe
   * knows when a message's copies can only be among the hashes, and reads no timeline for it
   * (`timelinesToSearch`). Absent on profiles written before it was kept: `computed.last_seen` bounds
   * every message they hold, so it stands in.
   */
  forgottenUpTo?: string;
  /**
   * The first `olderHashes` of `recentHashes` are of messages dated at or before `olderUpTo`: what
   * `forgottenUpTo` becomes when they are let go. Absent (profiles written before): every hash held.
   */
  olderHashes?: number;
  olderUpTo?: string;
  /**
   * Events per name and day over the last 90 days (`core/profiles/activity.ts`), for segment event
   * conditions without reading the timeline. Absent on profiles written before it existed: unknown.
   */
  activity?: Activity;
  /**
   * When the last profile in `mergedFrom` was merged in (the merging batch's time): no timeline item
   * is written under a merged-away id after its merge, and every item's time is at most a day after
   * its event arrived, so a message dated well after this cannot have a copy under those ids and dedupe
   * looks only under the profile's own (`mayBeOnMergedTimelines`). Absent when `mergedFrom` is empty, or
   * when a merge is of unknown time (profiles merged before this was kept): every id is looked under.
   */
  lastMergeAt?: string;
  /**
   * Events folded in whose timeline items are not written yet: a store may keep a person's latest
   * few with the profile while they fit in the profile's own write (see `adapters/dynamodb/
   * latest-events.ts`), and writes them to the timeline later, as one item. They are on the
   * timeline as far as readers and dedupe are concerned. Core carries them as they are: a merge keeps
   * the survivor's (the store puts the loser's on its own timeline before the merge is written).
   */
  pending?: PendingEvent[];
}

/** An event kept with its profile until it is written to the timeline (see `ProfileState.pending`). */
export interface PendingEvent {
  readonly sourceId: string;
  readonly event: TimelineEvent;
  /** Epoch seconds after which the event is past the timeline's retention. */
  readonly expiresAt: number;
}

/**
 * Most message hashes a profile keeps (8 characters each). When full, the older half is let go at once
 * (`rememberHash`), so the profile always holds the last 8 to 16 messages. Sixteen rather than 32: the
 * bytes they take in the profile item are what lets it keep a person's latest events within one write
 * unit, which saves a timeline write; a person's burst of more than 8 messages within the dedupe
 * window costs a timeline read instead, a fraction of the price.
 */
export const RECENT_HASHES = 16;

/** Characters of a message hash (base64url, 6 bits each). */
export const MESSAGE_HASH_LENGTH = 8;

/** 48 bits of SHA-256 of source and message id: collisions among a person's last 16 messages are negligible. */
export const messageHash = (e: Pick<CanonicalEvent, 'sourceId' | 'messageId'>) =>
  createHash('sha256')
    .update(`${e.sourceId}#${e.messageId}`)
    .digest('base64url')
    .slice(0, MESSAGE_HASH_LENGTH);

/** Whether this message is among the last ones folded into the profile. */
export const holdsMessage = (state: ProfileState, e: Pick<CanonicalEvent, 'sourceId' | 'messageId'>) =>
  state.recentHashes.includes(messageHash(e)) || holdsPending(state, e);

/** Whether this message is among the events kept with the profile (`pending`), so on its timeline. */
export const holdsPending = (state: ProfileState, e: Pick<CanonicalEvent, 'sourceId' | 'messageId'>) =>
  state.pending?.some((p) => p.sourceId === e.sourceId && p.event.messageId === e.messageId) ?? false;

/**
 * Where an event sits in the stream: its lane (a shard), the batch it was delivered in (named by the
 * batch's first record, which is where a failed batch is delivered again from) and its offset in that
 * batch. A lane is consumed one batch at a time, so once a batch of a lane is being processed, every
 * earlier batch of that lane has finished: a profile only has to remember the offsets it took from
 * the batch in flight on each lane, a few numbers instead of an ever-growing list of message ids.
 */
export interface EventPosition {
  readonly lane: string;
  readonly batch: string;
  readonly offset: number;
}

/** lane → batch → offsets folded in. At most the batch in flight per lane, plus merged-in leftovers. */
export type AppliedRecords = Record<string, Record<string, number[]>>;

const newer = (a: Stamp | undefined, b: Stamp): boolean =>
  a === undefined || b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]);

export function emptyProfile(profileId: string, now: string): ProfileState {
  return {
    profileId,
    traits: {},
    computed: { first_seen: '', last_seen: '', event_counts: {}, total_revenue: 0, order_count: 0 },
    consent: {},
    identities: [],
    createdAt: now,
    updatedAt: now,
    traitMeta: {},
    consentMeta: {},
    computedMeta: {},
    mergedFrom: [],
    applied: {},
    recentHashes: [],
    forgottenUpTo: '',
    activity: emptyActivity(),
  };
}

/** The later of two ISO times (`''` is earlier than any). */
const later = (a: string, b: string) => (a > b ? a : b);

/** What bounds the messages a profile has let go of (see `forgottenUpTo`); undefined when unknown. */
function forgottenBound(state: ProfileState): string | undefined {
  return state.forgottenUpTo ?? state.computed?.last_seen;
}

/**
 * Adds a message's hash; when the profile holds `RECENT_HASHES`, first lets the older half go, raising
 * `forgottenUpTo` to what bounds their times: `olderUpTo` when they are all among the `olderHashes`
 * (the steady cycle), else the latest time of anything folded in so far. What is left then becomes the
 * older part, bounded by that latest time. Call before the message itself is folded in.
 */
function rememberHash(state: ProfileState, hash: string): void {
  const held = state.recentHashes;
  if (held.length >= RECENT_HASHES) {
    const letGo = held.length - RECENT_HASHES / 2;
    const latest = state.computed.last_seen;
    const older = state.olderHashes ?? held.length;
    const bound = letGo <= older ? (state.olderUpTo ?? latest) : latest;
    const forgotten = forgottenBound(state);
    state.forgottenUpTo = forgotten === undefined ? undefined : later(forgotten, bound);
    state.recentHashes = held.slice(letGo);
    state.olderHashes = state.recentHashes.length;
    state.olderUpTo = latest;
  }
  state.recentHashes.push(hash);
}

/**
 * The timelines dedupe must search for a copy of a message dated `timestamp` (copies lie within
 * `windowMs` of it) that this profile may hold without its hash: none when every message it let go
 * of is dated more than the window before (a copy there would be among `recentHashes`, which the fold
 * checks), else its own and, near its last merge, those merged into it (`mayBeOnMergedTimelines`).
 * A person who sends a few events a day needs no timeline read; a burst of more than 8 does.
 */
export function timelinesToSearch(state: ProfileState, timestamp: string, windowMs?: number): string[] {
  const forgotten = forgottenBound(state);
  if (windowMs !== undefined && forgotten !== undefined) {
    const t = Date.parse(timestamp);
    const bound = forgotten === '' ? Number.NEGATIVE_INFINITY : Date.parse(forgotten);
    if (!Number.isNaN(t) && !Number.isNaN(bound) && t - windowMs > bound) return [];
  }
  return [state.profileId, ...(mayBeOnMergedTimelines(state, timestamp, windowMs) ? state.mergedFrom : [])];
}

export function addIdentities(state: ProfileState, ids: readonly Identity[]): void {
  for (const id of ids) {
    if (!state.identities.some((x) => x.type === id.type && x.value === id.value)) state.identities.push(id);
  }
  state.identities.sort((a, b) => (a.type + a.value < b.type + b.value ? -1 : 1));
}

/** The name event counts are kept under: the event name for track, the type otherwise. */
export const countKey = (e: Pick<CanonicalEvent, 'type' | 'event'>) =>
  e.type === 'track' ? e.event! : e.type;

function revenueOf(e: CanonicalEvent): number {
  const p = e.properties;
  const value = p.revenue ?? p.total ?? p.value;
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/**
 * Whether the record at `pos` is already folded into this profile; forgets the lane's finished batches
 * on the way (they can never be delivered again), which is what keeps `applied` small.
 */
/** Whether the record at `pos` is folded into this profile (read only). */
export function holdsRecord(state: ProfileState, pos: EventPosition): boolean {
  return state.applied[pos.lane]?.[pos.batch]?.includes(pos.offset) ?? false;
}

function alreadyApplied(state: ProfileState, pos: EventPosition): boolean {
  const lane = state.applied[pos.lane];
  if (!lane) return false;
  for (const batch of Object.keys(lane)) if (batch !== pos.batch) delete lane[batch];
  return lane[pos.batch]?.includes(pos.offset) ?? false;
}

/**
 * Folds one event into a profile. Returns false (and changes nothing) for an event already applied.
 * Traits are top-level units: a nested object trait (e.g. `address`) is replaced as a whole by a newer
 * one, never deep-merged, so a person's old street never survives next to a new city.
 */
export function applyEvent(state: ProfileState, e: CanonicalEvent, pos: EventPosition, now: string): boolean {
  const hash = messageHash(e);
  if (alreadyApplied(state, pos) || state.recentHashes.includes(hash)) return false;
  const stamp: Stamp = [e.timestamp, e.messageId];
  for (const [key, value] of Object.entries(e.traits)) {
    if (newer(state.traitMeta[key], stamp)) {
      state.traits[key] = value;
      state.traitMeta[key] = stamp;
    }
  }
  for (const [category, granted] of Object.entries(e.consent ?? {})) {
    if (newer(state.consentMeta[category], stamp)) {
      state.consent[category] = granted;
      state.consentMeta[category] = stamp;
    }
  }
  rememberHash(state, hash);
  const c = state.computed;
  if (!c.first_seen || e.timestamp < c.first_seen) c.first_seen = e.timestamp;
  if (!c.last_seen || e.timestamp > c.last_seen) c.last_seen = e.timestamp;
  const key = countKey(e);
  c.event_counts[key] = (c.event_counts[key] ?? 0) + 1;
  // A profile from before aggregates starts one now, knowing it lacks what came before.
  state.activity ??= activityFrom(Date.parse(now));
  recordActivity(state.activity, key, Date.parse(e.timestamp), Date.parse(now));
  if (e.type === 'track' && e.event === 'Order Completed') {
    c.order_count += 1;
    c.total_revenue = round(addRevenue(c.total_revenue, revenueOf(e)));
  }
  if (e.type === 'page' && newer(state.computedMeta.last_page, stamp)) {
    c.last_page = { ...(e.name ? { name: e.name } : {}), ...e.enrichment.page, at: e.timestamp };
    state.computedMeta.last_page = stamp;
  }
  if (e.type === 'screen' && newer(state.computedMeta.last_screen, stamp)) {
    c.last_screen = { ...(e.name ? { name: e.name } : {}), at: e.timestamp };
    state.computedMeta.last_screen = stamp;
  }
  const lane = state.applied[pos.lane] ?? {};
  lane[pos.batch] = [...(lane[pos.batch] ?? []), pos.offset];
  state.applied[pos.lane] = lane;
  state.updatedAt = now;
  return true;
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

/** Known for a profile without merged ids (nothing to bound) or with its last merge recorded. */
const mergesKnown = (p: ProfileState) => p.mergedFrom.length === 0 || p.lastMergeAt !== undefined;

function latestMerge(survivor: ProfileState, loser: ProfileState, mergedAt: string | null) {
  if (mergedAt === null || !mergesKnown(survivor) || !mergesKnown(loser)) return undefined;
  // ISO times: the latest sorts last.
  return [survivor.lastMergeAt, loser.lastMergeAt, mergedAt]
    .filter((t): t is string => t !== undefined)
    .sort()
    .at(-1);
}

/**
 * Longest time after its last merge that a copy of a message can be dated on a merged-away timeline:
 * an event is dated at most a day after it arrived (`STORAGE_LIMITS.maxFutureMs`), and a batch that
 * wrote under the loser before the merge committed may have started up to a Lambda timeout (15
 * minutes) after the merging batch took its time; a second day covers that with room.
 */
export const MERGED_TIMELINE_MARGIN_MS = 2 * 86_400_000;

/**
 * Whether a message dated `timestamp`, whose copies lie within `windowMs` of it, may have a copy on
 * the timelines of the ids merged into this profile. Unknown merge times answer yes.
 */
export function mayBeOnMergedTimelines(
  state: Pick<ProfileState, 'lastMergeAt' | 'mergedFrom'>,
  timestamp: string,
  windowMs: number | undefined,
): boolean {
  if (state.mergedFrom.length === 0) return false;
  if (state.lastMergeAt === undefined || windowMs === undefined) return true;
  const t = Date.parse(timestamp);
  const closed = Date.parse(state.lastMergeAt);
  if (Number.isNaN(t) || Number.isNaN(closed)) return true;
  return t - windowMs <= closed + MERGED_TIMELINE_MARGIN_MS;
}

/**
 * Folds `loser` into `survivor` (survivor keeps its id). Commutative in content: latest-by-stamp for
 * traits, consent and last page/screen; sums for counters; min/max for first/last seen.
 */
export function mergeInto(
  survivor: ProfileState,
  loser: ProfileState,
  now: string,
  /** When the loser stopped receiving timeline items; `null` when unknown. */
  mergedAt: string | null = now,
): void {
  survivor.lastMergeAt = latestMerge(survivor, loser, mergedAt);
  for (const [key, stamp] of Object.entries(loser.traitMeta)) {
    if (newer(survivor.traitMeta[key], stamp)) {
      survivor.traits[key] = loser.traits[key];
      survivor.traitMeta[key] = stamp;
    }
  }
  for (const [key, stamp] of Object.entries(loser.consentMeta)) {
    if (newer(survivor.consentMeta[key], stamp)) {
      survivor.consent[key] = loser.consent[key]!;
      survivor.consentMeta[key] = stamp;
    }
  }
  const s = survivor.computed;
  const l = loser.computed;
  if (l.first_seen && (!s.first_seen || l.first_seen < s.first_seen)) s.first_seen = l.first_seen;
  if (l.last_seen > s.last_seen) s.last_seen = l.last_seen;
  for (const [k, n] of Object.entries(l.event_counts)) s.event_counts[k] = (s.event_counts[k] ?? 0) + n;
  s.total_revenue = round(addRevenue(s.total_revenue, l.total_revenue));
  s.order_count += l.order_count;
  for (const field of ['last_page', 'last_screen'] as const) {
    const stamp = loser.computedMeta[field];
    if (stamp && newer(survivor.computedMeta[field], stamp)) {
      s[field] = l[field];
      survivor.computedMeta[field] = stamp;
    }
  }
  survivor.activity = mergeActivity(survivor.activity, loser.activity, Date.parse(now));
  addIdentities(survivor, loser.identities);
  survivor.mergedFrom = [...new Set([...survivor.mergedFrom, ...loser.mergedFrom, loser.profileId])].sort();
  // Both may hold records of the same batch in flight (one was written before a partial commit
  // failed): the union is exactly what the survivor now holds.
  for (const [lane, batches] of Object.entries(loser.applied)) {
    const into = survivor.applied[lane] ?? {};
    for (const [batch, offsets] of Object.entries(batches))
      into[batch] = [...new Set([...(into[batch] ?? []), ...offsets])].sort((a, b) => a - b);
    survivor.applied[lane] = into;
  }
  mergeHashes(survivor, loser);
  if (loser.createdAt < survivor.createdAt) survivor.createdAt = loser.createdAt;
  survivor.updatedAt = now;
}

/**
 * The survivor holds both profiles' hashes, up to `RECENT_HASHES` (the oldest let go); whatever either
 * let go of is bounded by the later of their bounds, and every hash held now, like any it lets go of
 * here, by the later of their latest times. Unknown on either side stays unknown.
 */
function mergeHashes(survivor: ProfileState, loser: ProfileState): void {
  const latest = later(survivor.computed?.last_seen ?? '', loser.computed?.last_seen ?? '');
  const union = [...new Set([...survivor.recentHashes, ...loser.recentHashes])];
  const kept = union.slice(-RECENT_HASHES);
  const [s, l] = [forgottenBound(survivor), forgottenBound(loser)];
  survivor.forgottenUpTo =
    s === undefined || l === undefined
      ? undefined
      : later(later(s, l), kept.length < union.length ? latest : '');
  survivor.recentHashes = kept;
  survivor.olderHashes = kept.length;
  survivor.olderUpTo = latest;
}

/** The public view of a stored profile (what the Profile API and later stages read). */
export function toProfile(state: ProfileState): Profile {
  const { profileId, traits, computed, consent, identities, createdAt, updatedAt } = state;
  return {
    profileId,
    traits,
    computed: computed as ComputedTraits,
    consent,
    identities,
    createdAt,
    updatedAt,
  };
}

export function toTimelineEvent(e: CanonicalEvent): TimelineEvent {
  return {
    messageId: e.messageId,
    type: e.type,
    ...(e.event ? { event: e.event } : {}),
    ...(e.name ? { name: e.name } : {}),
    timestamp: e.timestamp,
    ...(Object.keys(e.properties).length ? { properties: e.properties } : {}),
  };
}
