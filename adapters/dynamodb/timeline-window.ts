import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TimelineEvent } from '../../core/profiles/profile.js';
import type { ProfileState } from '../../core/profiles/state.js';
import { keptEntries } from './latest-events.js';
import { newestFirstDistinct } from './timeline-item.js';
import { inTimelineRange, newestTimelineItems } from './timeline-query.js';

/**
 * A profile's timeline events since an instant (newest first, up to `max`), across the profile and
 * every profile merged into it, and those it keeps itself: for segment event conditions whose windows all end after `since`, so a
 * run reads the last 30 days of a person, not 90. Same events and order as `ProfileReader.fullTimeline`
 * restricted to the window.
 */
export async function timelineSince(
  ddb: DynamoDBDocumentClient,
  table: string,
  state: Pick<ProfileState, 'profileId' | 'mergedFrom' | 'pending'>,
  since: Date,
  max = 1000,
): Promise<TimelineEvent[]> {
  const range = { since: since.toISOString(), want: max };
  const lists = await Promise.all(
    [state.profileId, ...state.mergedFrom].map((id) => newestTimelineItems(ddb, table, id, range)),
  );
  return newestFirstDistinct(
    lists.map((l) => l.items),
    keptEntries(state),
  )
    .filter((e) => inTimelineRange(range, e))
    .slice(0, max)
    .map((e) => e.event);
}
