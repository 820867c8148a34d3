import {
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ResourceInUseException as StreamInUse,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { MEMBERSHIPS_MIGRATED_KEY } from '../adapters/dynamodb/legacy-memberships.js';
import { BUCKETS } from '../resources/buckets.js';
import { STREAMS } from '../resources/streams.js';
import { CONTROL_TABLE, PROFILES_TABLE, TABLES, type TableDefinition } from '../resources/tables.js';

/**
 * Creates every table, stream and bucket the CDK stack defines, from the same definitions, so local
 * and cloud resources have the same keys, indexes and TTL attributes. Idempotent across restarts.
 */
export async function bootstrapResources(clients: {
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  s3: S3Client;
}): Promise<void> {
  const [created] = await Promise.all([
    createTables(clients.dynamodb),
    ...STREAMS.map(async (s) => {
      try {
        await clients.kinesis.send(
          new CreateStreamCommand({ StreamName: s.localName, ShardCount: s.localShardCount }),
        );
      } catch (err) {
        if (!(err instanceof StreamInUse)) throw err;
      }
      await waitForStream(clients.kinesis, s.localName);
    }),
    ...BUCKETS.map(async (b) => {
      try {
        await clients.s3.send(new CreateBucketCommand({ Bucket: b.localName }));
      } catch (err) {
        const name = (err as Error).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
      }
    }),
  ]);
  await markFreshTables(clients.dynamodb, created);
}

/** Creates every table; returns the names of those that did not exist yet. */
export async function createTables(ddb: DynamoDBClient): Promise<Set<string>> {
  const created = await Promise.all(
    TABLES.map(async (t) => ((await createTable(ddb, t)) ? t.localName : '')),
  );
  return new Set(created.filter(Boolean));
}

/**
 * A profiles table created just now holds no membership of the previous layout: it is marked
 * migrated, so readers do not look for any (a table kept from an earlier version is left for
 * `npm run cdp -- migrate-memberships`).
 */
export async function markFreshTables(ddb: DynamoDBClient, created: ReadonlySet<string>): Promise<void> {
  if (!created.has(PROFILES_TABLE.localName)) return;
  await ddb.send(
    new PutItemCommand({
      TableName: CONTROL_TABLE.localName,
      Item: {
        pk: { S: MEMBERSHIPS_MIGRATED_KEY.pk },
        sk: { S: MEMBERSHIPS_MIGRATED_KEY.sk },
        migratedAt: { S: new Date().toISOString() },
        created: { BOOL: true },
      },
    }),
  );
}

/** Creates a table unless it exists; true when it did not exist. */
export async function createTable(ddb: DynamoDBClient, t: TableDefinition): Promise<boolean> {
  const attributes = new Map<string, 'S' | 'N'>();
  for (const key of [
    t.partitionKey,
    t.sortKey,
    ...t.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]) {
    if (key) attributes.set(key.name, key.type);
  }
  try {
    await ddb.send(
      new CreateTableCommand({
        TableName: t.localName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
          AttributeName,
          AttributeType,
        })),
        KeySchema: [
          { AttributeName: t.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: t.sortKey.name, KeyType: 'RANGE' },
        ],
        // DynamoDB refuses an empty list: a table without indexes has no such parameter.
        ...(t.globalSecondaryIndexes.length
          ? {
              GlobalSecondaryIndexes: t.globalSecondaryIndexes.map((i) => ({
                IndexName: i.indexName,
                KeySchema: [
                  { AttributeName: i.partitionKey.name, KeyType: 'HASH' as const },
                  ...(i.sortKey ? [{ AttributeName: i.sortKey.name, KeyType: 'RANGE' as const }] : []),
                ],
                Projection: { ProjectionType: 'ALL' as const },
              })),
            }
          : {}),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    return false;
  }
  // dynalite accepts the TTL setting (it does not expire items; DynamoDB's own TTL is best-effort too).
  try {
    await ddb.send(
      new UpdateTimeToLiveCommand({
        TableName: t.localName,
        TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true },
      }),
    );
  } catch {
    // Older dynalite builds do not implement UpdateTimeToLive; readers treat expired items as absent.
  }
  return true;
}

async function waitForStream(kinesis: KinesisClient, name: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { StreamDescriptionSummary } = await kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: name }),
    );
    if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stream ${name} did not become ACTIVE`);
}
