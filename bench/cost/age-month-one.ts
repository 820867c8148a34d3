import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  paginateQuery,
  paginateScan,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Item } from '../../adapters/dynamodb/batch.js';
import {
  profileItemParts,
  stateFromItem,
  TRAITS_SK,
  withTraitValues,
} from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { sourceDigest, timelineEntries } from '../../adapters/dynamodb/timeline-item.js';
import { messageHash } from '../../core/profiles/state.js';

/**
 * Dates the month-one phase `byMs` earlier on every live profile, as if it had happened that long ago.
 * The benchmark's steady state stands for people with months of history, whose browsers were linked
 * and whose first messages were sent long before the measured traffic; but its handlers run on
 * today's clock, so the month-one phase is minutes old when the steady phase is measured. Two things
 * on a profile follow from it, and dedupe would read timelines for every steady event because of them:
 * - its last merge (`lastMergeAt`, see `mayBeOnMergedTimelines`), dated back;
 * - the bounds on the messages whose hashes it let go of (`forgottenUpTo`, `olderUpTo`, see
 *   `timelinesToSearch`), recomputed from the person's timeline items with those dated at or after
 *   `monthOneFrom` (the month-one traffic; the history is dated before it) counted `byMs` earlier.
 * Unmetered, between phases, nothing else writing. Returns how many profiles it rewrote.
 */
export async function ageMonthOne(
  client: DynamoDBClient,
  tables: { profiles: string; timeline: string },
  sourceIds: readonly string[],
  monthOneFrom: Date,
  byMs: number,
): Promise<number> {
  const sources = new Map(sourceIds.map((id) => [sourceDigest(id), id]));
  const aged = (iso: string) =>
    iso >= monthOneFrom.toISOString() ? new Date(Date.parse(iso) - byMs).toISOString() : iso;
  let rewritten = 0;
  for await (const page of paginateScan({ client }, { TableName: tables.profiles })) {
    for (const raw of page.Items ?? []) {
      const item = unmarshall(raw);
      if (item.sk !== 'PROFILE' || item.mergedInto || item.packed === undefined) continue;
      // Trait values kept beside the profile are read with it; they do not change, so the profile
      // item is written back naming the same.
      const { Item: values } = await client.send(
        new GetItemCommand({
          TableName: tables.profiles,
          Key: marshall({ pk: item.pk, sk: TRAITS_SK }),
          ConsistentRead: true,
        }),
      );
      const whole = withTraitValues(item as Item, values ? [unmarshall(values) as Item] : []);
      if (!whole) throw new Error(`Profile ${item.pk}: trait values missing`);
      const state = stateFromItem(whole);
      if (state.lastMergeAt) state.lastMergeAt = aged(state.lastMergeAt);
      // When each message this person holds was dated, month one moved back.
      const dated = new Map<string, string>();
      for (const id of [state.profileId, ...state.mergedFrom])
        for await (const events of paginateQuery(
          { client },
          {
            TableName: tables.timeline,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: marshall({ ':pk': keys.profilePk(id) }),
          },
        ))
          for (const item of (events.Items ?? []).map((i) => unmarshall(i))) {
            // Items keep a digest of their source; the hash is of its id.
            const sourceId = sources.get(item.src as string);
            if (sourceId === undefined) throw new Error(`A timeline item from an unknown source: ${item.sk}`);
            for (const { event } of timelineEntries(item))
              dated.set(messageHash({ sourceId, messageId: event.messageId }), aged(event.timestamp));
          }
      // And the latest events the profile keeps itself (`latest-events.ts`).
      for (const { sourceId, event } of state.pending ?? [])
        dated.set(messageHash({ sourceId, messageId: event.messageId }), aged(event.timestamp));
      const latest = (hashes: Iterable<string>) =>
        [...hashes].reduce((max, h) => {
          const at = dated.get(h) ?? '';
          return at > max ? at : max;
        }, '');
      const held = new Set(state.recentHashes);
      state.forgottenUpTo = latest([...dated.keys()].filter((h) => !held.has(h)));
      if (state.olderHashes !== undefined)
        state.olderUpTo = latest(state.recentHashes.slice(0, state.olderHashes));
      await client.send(
        new PutItemCommand({
          TableName: tables.profiles,
          Item: marshall(
            { ...item, ...profileItemParts(state, item.tv as string | undefined).attributes },
            { removeUndefinedValues: true },
          ),
        }),
      );
      rewritten++;
    }
  }
  return rewritten;
}

/**
 * Dates every segment definition `byMs` earlier. A deployment's segments are defined long before the
 * traffic they segment, and real-time evaluation counts on it: a profile last written within a minute
 * of a definition's change is evaluated whatever its batch changed (see `needsRealtimeEvaluation`),
 * which in a benchmark whose segments are seconds old would be every profile. The definitions counter
 * is bumped, so processors read them again. Unmetered, before the traffic. Returns how many it dated.
 */
export async function dateSegmentsBack(
  client: DynamoDBClient,
  controlTable: string,
  byMs: number,
): Promise<number> {
  let dated = 0;
  for await (const page of paginateScan({ client }, { TableName: controlTable })) {
    for (const raw of page.Items ?? []) {
      const item = unmarshall(raw);
      if (item.sk !== 'DEF' || !String(item.pk).startsWith('SEG#')) continue;
      const back = (iso: string) => new Date(Date.parse(iso) - byMs).toISOString();
      await client.send(
        new PutItemCommand({
          TableName: controlTable,
          Item: marshall({ ...item, createdAt: back(item.createdAt), updatedAt: back(item.updatedAt) }),
        }),
      );
      dated++;
    }
  }
  await client.send(
    new UpdateItemCommand({
      TableName: controlTable,
      Key: marshall({ pk: 'CHANGES#SEGMENTS', sk: 'COUNTER' }),
      UpdateExpression: 'ADD v :one',
      ExpressionAttributeValues: marshall({ ':one': 1 }),
    }),
  );
  return dated;
}
