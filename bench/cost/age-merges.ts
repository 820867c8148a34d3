import { type DynamoDBClient, PutItemCommand, paginateScan } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Item } from '../../adapters/dynamodb/batch.js';
import { profileAttributes, stateFromItem } from '../../adapters/dynamodb/profile-item.js';

/**
 * Dates every live profile's last merge `byMs` earlier, as if the merges had happened that long ago.
 * The benchmark's steady state stands for people with months of history, whose browsers were linked
 * to them long before the measured traffic; but its handlers run on today's clock, so the merges of
 * its month-one phase are minutes old when the steady phase is measured, and dedupe would look under
 * every merged-away timeline (see `mayBeOnMergedTimelines`). Unmetered, between phases, nothing else
 * writing. Returns how many profiles it dated back.
 */
export async function ageMerges(client: DynamoDBClient, table: string, byMs: number): Promise<number> {
  let aged = 0;
  for await (const page of paginateScan({ client }, { TableName: table })) {
    for (const raw of page.Items ?? []) {
      const item = unmarshall(raw);
      if (item.sk !== 'PROFILE' || item.mergedInto || item.packed === undefined) continue;
      const state = stateFromItem(item as Item);
      if (!state.lastMergeAt) continue;
      state.lastMergeAt = new Date(Date.parse(state.lastMergeAt) - byMs).toISOString();
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: marshall({ ...item, ...profileAttributes(state) }, { removeUndefinedValues: true }),
        }),
      );
      aged++;
    }
  }
  return aged;
}
