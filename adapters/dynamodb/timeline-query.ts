import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from './profile-keys.js';
import {
  GROUP,
  itemStartTime,
  latestKeyFrom,
  type TimelineEntry,
  timelineEntries,
  timelineKeyParts,
} from './timeline-item.js';

export interface TimelineRange {
  /** Events at or after this ISO time only. */
  readonly since?: string;
  /** Events whose key (`EV#<time>#<messageId>`, a page cursor) sorts before this one only. */
  readonly below?: string;
  /** How many of the newest events in range are wanted. */
  readonly want: number;
}

export const inTimelineRange = (range: TimelineRange, e: TimelineEntry): boolean =>
  (range.since === undefined || e.event.timestamp >= range.since) &&
  (range.below === undefined || e.key < range.below);

/**
 * Items of one profile's timeline holding its newest `want` events in range, read newest first. An
 * item's key is its earliest event's, and it holds events up to `GROUP.spanMs` later: items are read
 * from that much before `since`, and until more than `want` events in range are certain to be newer
 * than any event of an item not read yet, or the range ends (`more` says it did not).
 */
export async function newestTimelineItems(
  ddb: DynamoDBDocumentClient,
  table: string,
  profileId: string,
  range: TimelineRange,
): Promise<{ items: Record<string, unknown>[]; more: boolean }> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const res = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
        ExpressionAttributeValues: {
          ':pk': keys.profilePk(profileId),
          ':lo': range.since === undefined ? 'EV#' : `EV#${spanBefore(range.since)}`,
          // An item whose first event is later than `below`'s time holds no event below it ('$' sorts
          // right after the '#' that ends the time in a key).
          ':hi': range.below === undefined ? 'EV#~' : `EV#${timelineKeyParts(range.below).timestamp}$`,
        },
        ScanIndexForward: false,
        Limit: Math.min(range.want + 1, 500),
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(res.Items ?? []));
    start = res.LastEvaluatedKey;
    if (!start || items.length === 0) break;
    const certainAbove = latestKeyFrom(itemStartTime(items.at(-1)!));
    if (certainAbove === undefined) continue;
    const certain = items
      .flatMap(timelineEntries)
      .filter((e) => e.key > certainAbove && inTimelineRange(range, e));
    if (certain.length > range.want) break;
  } while (start);
  return { items, more: start !== undefined };
}

/** The ISO time `GROUP.spanMs` before this one (the earliest key of an item holding an event then). */
function spanBefore(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(Math.max(t - GROUP.spanMs, 0)).toISOString() : '';
}
