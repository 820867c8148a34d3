import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TimelineEvent } from '../../core/profiles/profile.js';
import type { ProfileState } from '../../core/profiles/state.js';
import { keys } from './profile-keys.js';
import { newestFirstDistinct, timelineEventOf } from './timeline-item.js';

/**
 * A profile's timeline events since an instant (newest first, up to `max`), across the profile and
 * every profile merged into it: for segment event conditions whose windows all end after `since`, so a
 * run reads the last 30 days of a person, not 90. Same items and order as `ProfileReader.fullTimeline`
 * restricted to the window.
 */
export async function timelineSince(
  ddb: DynamoDBDocumentClient,
  table: string,
  state: Pick<ProfileState, 'profileId' | 'mergedFrom'>,
  since: Date,
  max = 1000,
): Promise<TimelineEvent[]> {
  const lists = await Promise.all(
    [state.profileId, ...state.mergedFrom].map(async (id) => {
      const items: Record<string, unknown>[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const res = await ddb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
            ExpressionAttributeValues: {
              ':pk': keys.profilePk(id),
              ':lo': `EV#${since.toISOString()}`,
              ':hi': 'EV#~',
            },
            ScanIndexForward: false,
            ExclusiveStartKey,
            Limit: Math.min(max, 500),
          }),
        );
        items.push(...(res.Items ?? []));
        ExclusiveStartKey = res.LastEvaluatedKey;
      } while (ExclusiveStartKey && items.length < max);
      return items;
    }),
  );
  return newestFirstDistinct(lists).slice(0, max).map(timelineEventOf);
}
