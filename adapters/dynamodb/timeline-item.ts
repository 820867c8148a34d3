import { createHash } from 'node:crypto';
import { type TimelineEvent, TimelineEventSchema } from '../../core/profiles/profile.js';
import type { Item } from './batch.js';
import { keys } from './profile-keys.js';

/**
 * A timeline item: `P#<profileId>` / `EV#<ISO time>#<messageId>`, what segments read of the event
 * (type, event or name, properties), a digest of its source (a retry matches on source and message
 * id) and its expiry.
 *
 * Timeline items are what the CDP stores most of (one per event for the retention period, 90 days by
 * default, billed again for point-in-time recovery), so an item holds nothing its keys already say:
 * the message id, the time and the profile id are in the keys only; the source is 11 characters of
 * its SHA-256 (`src`, 66 bits: two sources of one deployment sharing a digest and a message id within
 * the dedupe window is not a case to plan for), and a track event's type is implied by its event
 * name. Items written before carry `messageId`, `timestamp`, `profileId`, `sourceId` and `type`, and
 * are read the same way.
 */
export function timelineItem(
  profileId: string,
  sourceId: string,
  event: TimelineEvent,
  expiresAt: number,
): Item {
  const { messageId, timestamp, type, ...rest } = event;
  return {
    ...keys.timeline(profileId, timestamp, messageId),
    ...(type === 'track' && rest.event !== undefined ? {} : { type }),
    ...rest,
    src: sourceDigest(sourceId),
    expiresAt,
  };
}

/** A source id as timeline items keep it. */
export const sourceDigest = (sourceId: string): string =>
  createHash('sha256').update(sourceId).digest('base64url').slice(0, 11);

/**
 * Whether a timeline item holds a message from this source, whichever layout wrote it; items written
 * before they carried their source match any.
 */
export function fromSource(item: Record<string, unknown>, sourceId: string): boolean {
  if (typeof item.src === 'string') return item.src === sourceDigest(sourceId);
  return item.sourceId === undefined || item.sourceId === sourceId;
}

/** The message id and event time a timeline item's sort key holds. */
export function timelineKeyParts(sk: string): { timestamp: string; messageId: string } {
  // `EV#` + an ISO time (no '#' in it) + '#' + the message id (which may hold '#').
  const at = sk.indexOf('#', 3);
  return { timestamp: sk.slice(3, at), messageId: sk.slice(at + 1) };
}

/** The message id of a timeline item, old layout (an attribute) or new (the sort key). */
export const timelineMessageId = (item: Record<string, unknown>): string =>
  (item.messageId as string | undefined) ?? timelineKeyParts(item.sk as string).messageId;

/** The event a timeline item holds, whichever layout wrote it. */
export function timelineEventOf(item: Record<string, unknown>): TimelineEvent {
  const implied = item.type === undefined && item.event !== undefined ? { type: 'track' } : {};
  return TimelineEventSchema.parse({ ...implied, ...timelineKeyParts(item.sk as string), ...item });
}

/**
 * Timeline items read under a profile and the profiles merged into it, as one timeline: newest first,
 * each message once (a copy committed under a merged-away id before the merge stays there).
 */
export function newestFirstDistinct<T extends Record<string, unknown>>(
  lists: readonly (readonly T[])[],
): T[] {
  const seen = new Set<string>();
  return lists
    .flat()
    .sort((a, b) => ((a.sk as string) < (b.sk as string) ? 1 : -1))
    .filter((i) => !seen.has(timelineMessageId(i)) && seen.add(timelineMessageId(i)));
}
