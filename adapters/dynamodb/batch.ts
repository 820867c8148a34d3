import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { inParallel } from '../../core/shared/concurrency.js';
import { CONTROL_TABLE } from '../../resources/tables.js';

export type Key = { pk: string; sk: string };
export type Item = Record<string, unknown> & Key;

/** Counts DynamoDB requests, so benchmarks can report requests per event. */
export const requestCounter = { count: 0 };

/**
 * BatchGetItem in chunks of 100, retrying unprocessed keys with backoff. Chunks are read a few at a
 * time: a batch segment page asks for thousands of memberships, and chunk after chunk in sequence
 * would leave the caller waiting on round trips.
 */
export async function batchGet(
  ddb: DynamoDBDocumentClient,
  table: string,
  keys: readonly Key[],
  /** Eventually consistent reads cost half; only for callers that tolerate a slightly stale answer. */
  consistent = true,
): Promise<Item[]> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}\0${k.sk}`, k])).values()];
  const chunks: Key[][] = [];
  for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
  const out: Item[] = [];
  await inParallel(
    chunks,
    async (chunk) => {
      let pending: Record<string, unknown>[] = chunk;
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > 8) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
        if (attempt) await sleep(Math.random() * 25 * 2 ** attempt);
        requestCounter.count++;
        const res = await ddb.send(
          new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: consistent } } }),
        );
        out.push(...((res.Responses?.[table] ?? []) as Item[]));
        pending = (res.UnprocessedKeys?.[table]?.Keys ?? []) as Record<string, unknown>[];
      }
    },
    4,
  );
  return out;
}

/** BatchWriteItem (puts and deletes) in chunks of 25, retrying unprocessed items with backoff. */
export async function batchWrite(
  ddb: DynamoDBDocumentClient,
  table: string,
  requests: ReadonlyArray<{ put: Item } | { delete: Key }>,
): Promise<void> {
  // A batch may not name one key twice: the last write of a key wins, as sequential writes would.
  const byKey = new Map<string, { put: Item } | { delete: Key }>();
  for (const r of requests) {
    const k = 'put' in r ? r.put : r.delete;
    byKey.set(`${k.pk}\0${k.sk}`, r);
  }
  const all = [...byKey.values()].map((r) =>
    'put' in r ? { PutRequest: { Item: r.put } } : { DeleteRequest: { Key: r.delete } },
  );
  for (let i = 0; i < all.length; i += 25) {
    let pending: Record<string, unknown>[] = all.slice(i, i + 25);
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt > 8) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
      if (attempt) await sleep(Math.random() * 25 * 2 ** attempt);
      requestCounter.count++;
      const res = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (res.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
    }
  }
}

/** Every item a Query finds, page after page (for reads that must not stop at the first 1 MB). */
export async function queryAll(
  ddb: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(new QueryCommand({ ...input, ExclusiveStartKey }));
    out.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return out;
}

/**
 * Every control-plane item of one kind (`gsi1pk = <kind>` on the `byLookup` index), page after page:
 * callers route or authorize by these lists, so an item past the first page must not go missing.
 */
export function allOfKind(
  ddb: DynamoDBDocumentClient,
  table: string,
  kind: string,
): Promise<Record<string, unknown>[]> {
  return queryAll(ddb, {
    TableName: table,
    IndexName: CONTROL_TABLE.globalSecondaryIndexes[0]!.indexName,
    KeyConditionExpression: 'gsi1pk = :kind',
    ExpressionAttributeValues: { ':kind': kind },
  });
}
