import { type TimelineEvent, TimelineEventSchema } from '../../core/profiles/profile.js';
import type { Item } from './batch.js';
import { keys } from './profile-keys.js';

/**
 * A timeline item: `P#<profileId>` / `EV#<ISO time>#<messageId>`, what segments read of the event
 * (type, event or name, properties), its source (a retry matches on source and message id) and its
 * expiry.
 *
 * The message id, the time and the profile id are in the keys and nowhere else. Timeline items are
 * what the CDP stores most of (one per event for the retention period, 90 days by default), and
 * those three attributes with their names were about a third of an item's bytes. Items written
 * before carry them as attributes too, and are read the same way.
 */
export function timelineItem(
  profileId: string,
  sourceId: string,
  event: TimelineEvent,
  expiresAt: number,
): Item {
  const { messageId, timestamp, ...rest } = event;
  return { ...keys.timeline(profileId, timestamp, messageId), ...rest, sourceId, expiresAt };
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
  return TimelineEventSchema.parse({ ...timelineKeyParts(item.sk as string), ...item });
}
