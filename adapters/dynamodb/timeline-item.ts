import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { type TimelineEvent, TimelineEventSchema } from '../../core/profiles/profile.js';
import type { Item } from './batch.js';
import { keys } from './profile-keys.js';
import { TIMELINE_DICTIONARY_V1 } from './timeline-dictionary.js';

/**
 * Timeline items: `P#<profileId>` / `EV#<ISO time>#<messageId>[#<group digest>]`.
 *
 * Timeline items are what the CDP stores most of (every event for the retention period, 90 days by
 * default, billed again for point-in-time recovery) and one write unit per item, so:
 *
 * - **A person's events of one batch from one source share an item** (up to `GROUP` limits): three
 *   events of a server batch cost one write unit, not three, and their keys and DynamoDB's per-item
 *   overhead once. The item's key is its earliest event's; an item of several events adds a digest of
 *   all of their message ids, so two attempts that grouped different sets of a batch's events (a retry
 *   after a partial commit, a batch Lambda split in two) write two items, never one over the other,
 *   and readers take each message once. Events of an item lie within `GROUP.spanMs` of its key's time,
 *   so a reader of a time window starts that much earlier.
 * - **What the keys say is not repeated**: the first event's message id and time are in the sort key
 *   only, the profile id in the partition key.
 * - **The rest is one compressed attribute** (`ev`: a format byte, then the events as JSON, deflated
 *   with a preset dictionary of the names Segment's specs give events and properties, see
 *   `timeline-dictionary.ts`): an analytics.js page view's 320 bytes of JSON become about 110.
 * - **The source is a digest** (`src`, 11 characters of its SHA-256, 66 bits): a retry matches on source
 *   and message id, which needs sources told apart, not spelled out. Two sources of one deployment
 *   sharing a digest and a message id within the dedupe window is not a case to plan for.
 *
 * Items written before are read the same way: with the event's fields as attributes (`type`, `event`,
 * `name`, `properties`), and before that also `messageId`, `timestamp`, `profileId` and `sourceId`.
 */

/** How far events of one item may lie apart, how many and how much JSON it holds. */
export const GROUP = { spanMs: 60 * 60 * 1000, maxEvents: 50, maxJsonBytes: 48 * 1024 } as const;

/** Format byte of `ev`: 1 is deflate (raw) with `TIMELINE_DICTIONARY_V1`. */
const FORMAT_DEFLATE_V1 = 1;

/** A timeline event with its key (`EV#<time>#<messageId>`), which orders a timeline. */
export interface TimelineEntry {
  readonly key: string;
  readonly event: TimelineEvent;
}

export const eventKey = (timestamp: string, messageId: string): string => `EV#${timestamp}#${messageId}`;

/**
 * The items that hold these events of one profile from one source (a batch's): in key order, a new
 * item when the next event lies more than `GROUP.spanMs` after the item's first, or the item is full.
 * `expiresAt`: one time for all, or each event's (an item expires with its last).
 */
export function timelineItems(
  profileId: string,
  sourceId: string,
  events: readonly TimelineEvent[],
  expiresAt: number | ((event: TimelineEvent) => number),
): Item[] {
  const expiry = typeof expiresAt === 'number' ? () => expiresAt : expiresAt;
  const sorted = [...events].sort((a, b) =>
    compareKeys(eventKey(a.timestamp, a.messageId), eventKey(b.timestamp, b.messageId)),
  );
  const groups: Array<{ events: TimelineEvent[]; json: string[]; bytes: number; start: number }> = [];
  for (const event of sorted) {
    const json = JSON.stringify(stored(event, true));
    const at = Date.parse(event.timestamp);
    const group = groups.at(-1);
    const fits =
      group !== undefined &&
      Number.isFinite(at) &&
      Number.isFinite(group.start) &&
      at - group.start <= GROUP.spanMs &&
      group.events.length < GROUP.maxEvents &&
      group.bytes + json.length <= GROUP.maxJsonBytes;
    if (fits) {
      group.events.push(event);
      group.json.push(json);
      group.bytes += json.length;
    } else {
      // The first event of an item keeps its id and time in the key only.
      const first = JSON.stringify(stored(event, false));
      groups.push({ events: [event], json: [first], bytes: first.length, start: at });
    }
  }
  const src = sourceDigest(sourceId);
  return groups.map(({ events: [first, ...rest], json }) => {
    const { pk, sk } = keys.timeline(profileId, first!.timestamp, first!.messageId);
    const ids = [first!.messageId, ...rest.map((e) => e.messageId)];
    return {
      pk,
      sk: rest.length === 0 ? sk : `${sk}#${groupDigest(ids)}`,
      ev: encode(`[${json.join(',')}]`),
      src,
      expiresAt: Math.max(expiry(first!), ...rest.map(expiry)),
    };
  });
}

/** The item of one event. */
export const timelineItem = (
  profileId: string,
  sourceId: string,
  event: TimelineEvent,
  expiresAt: number,
): Item => timelineItems(profileId, sourceId, [event], expiresAt)[0]!;

/** An event as an item stores it: without what the key says (first event), `type` implied for tracks. */
function stored(event: TimelineEvent, withKey: boolean): Record<string, unknown> {
  const { messageId, timestamp, type, ...rest } = event;
  return {
    ...(withKey ? { messageId, timestamp } : {}),
    ...(type === 'track' && rest.event !== undefined ? {} : { type }),
    ...rest,
  };
}

const compareKeys = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// Of the ids as a JSON array: message ids may hold any character, so joined by one they could say the
// same for two different sets.
const groupDigest = (messageIds: readonly string[]): string =>
  createHash('sha256').update(JSON.stringify(messageIds)).digest('base64url').slice(0, 11);

function encode(json: string): Uint8Array {
  const body = deflateRawSync(Buffer.from(json, 'utf8'), { dictionary: TIMELINE_DICTIONARY_V1, level: 9 });
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = FORMAT_DEFLATE_V1;
  out.set(body, 1);
  return out;
}

function decode(ev: Uint8Array): Record<string, unknown>[] {
  if (ev[0] !== FORMAT_DEFLATE_V1) throw new Error(`Timeline item in an unknown format (${ev[0]})`);
  const json = inflateRawSync(ev.subarray(1), { dictionary: TIMELINE_DICTIONARY_V1 }).toString('utf8');
  return JSON.parse(json) as Record<string, unknown>[];
}

/** A source id as timeline items keep it. */
export const sourceDigest = (sourceId: string): string =>
  createHash('sha256').update(sourceId).digest('base64url').slice(0, 11);

/**
 * Whether a timeline item holds messages from this source, whichever layout wrote it; items written
 * before they carried their source match any.
 */
export function fromSource(item: Record<string, unknown>, sourceId: string): boolean {
  if (typeof item.src === 'string') return item.src === sourceDigest(sourceId);
  return item.sourceId === undefined || item.sourceId === sourceId;
}

/** The message id and event time a single event's sort key holds (an item's first event's). */
export function timelineKeyParts(sk: string): { timestamp: string; messageId: string } {
  // `EV#` + an ISO time (no '#' in it) + '#' + the message id (which may hold '#').
  const at = sk.indexOf('#', 3);
  return { timestamp: sk.slice(3, at), messageId: sk.slice(at + 1) };
}

/** Items already read, by object: readers look at an item more than once (pages, distinct). */
const entriesOf = new WeakMap<object, TimelineEntry[]>();

/** The events a timeline item holds, with their keys, whichever layout wrote it. */
export function timelineEntries(item: Record<string, unknown>): TimelineEntry[] {
  let entries = entriesOf.get(item);
  if (!entries) {
    entries = readEntries(item);
    entriesOf.set(item, entries);
  }
  return entries;
}

function readEntries(item: Record<string, unknown>): TimelineEntry[] {
  const sk = item.sk as string;
  if (item.ev instanceof Uint8Array) {
    const [first, ...rest] = decode(item.ev);
    // An item of several events ends its key with '#' and an 11-character digest.
    const key = rest.length === 0 ? sk : sk.slice(0, -12);
    const all = [{ ...timelineKeyParts(key), ...first }, ...rest];
    return all.map((e) => {
      const event = TimelineEventSchema.parse({ ...(e.type === undefined ? { type: 'track' } : {}), ...e });
      return { key: eventKey(event.timestamp, event.messageId), event };
    });
  }
  const implied = item.type === undefined && item.event !== undefined ? { type: 'track' } : {};
  const event = TimelineEventSchema.parse({ ...implied, ...timelineKeyParts(sk), ...item });
  return [{ key: eventKey(event.timestamp, event.messageId), event }];
}

/** The message ids a timeline item holds, whichever layout wrote it. */
export function timelineMessageIds(item: Record<string, unknown>): string[] {
  if (item.ev instanceof Uint8Array) return timelineEntries(item).map((e) => e.event.messageId);
  return [(item.messageId as string | undefined) ?? timelineKeyParts(item.sk as string).messageId];
}

/** The earliest time an item's events may have: its key's. */
export const itemStartTime = (item: Record<string, unknown>): string =>
  timelineKeyParts(item.sk as string).timestamp;

/**
 * The latest event key an item starting at this time can hold (`GROUP.spanMs` after it), or undefined
 * for a time that does not parse (then nothing can be told about it).
 */
export function latestKeyFrom(startTime: string): string | undefined {
  const t = Date.parse(startTime);
  if (!Number.isFinite(t)) return undefined;
  const d = new Date(t + GROUP.spanMs);
  return d.getUTCFullYear() <= 9999 ? `EV#${d.toISOString()}~` : undefined;
}

/**
 * Timeline items read under a profile and the profiles merged into it, with the events kept on the
 * profile item (`kept`, see `latest-events.ts`), as one timeline: newest first, each message once (a
 * copy committed under a merged-away id before the merge stays there, two attempts at a batch may
 * have grouped its events differently, and an event let go by a write that lost its race is both kept
 * and on the timeline).
 */
export function newestFirstDistinct(
  lists: readonly (readonly Record<string, unknown>[])[],
  kept: readonly TimelineEntry[] = [],
): TimelineEntry[] {
  const seen = new Set<string>();
  return [...kept, ...lists.flat().flatMap(timelineEntries)]
    .sort((a, b) => compareKeys(b.key, a.key))
    .filter((e) => !seen.has(e.event.messageId) && seen.add(e.event.messageId));
}
