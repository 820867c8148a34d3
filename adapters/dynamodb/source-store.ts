import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { generateWriteKey, hashWriteKey } from '../../core/collect/write-keys.js';

/**
 * Sources and their write keys in the control table.
 *   pk = SRC#<sourceId>, sk = SOURCE            -> { name, createdAt }
 *   pk = KEY#<sha256(writeKey)>, sk = WRITE_KEY -> { sourceId, createdAt, revokedAt? }
 * The key item makes authentication one GetItem by hash; the raw key is never stored.
 */
export interface Source {
  readonly sourceId: string;
  readonly name: string;
  readonly createdAt: string;
}

export interface WriteKeyRecord {
  readonly sourceId: string;
  readonly revokedAt?: string;
}

export class SourceStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Creates a source with a fresh write key; the key is returned once and never stored in clear. */
  async createSource(
    name: string,
    writeKey = generateWriteKey(),
  ): Promise<{ source: Source; writeKey: string }> {
    const source: Source = { sourceId: randomUUID(), name, createdAt: new Date().toISOString() };
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `SRC#${source.sourceId}`,
          sk: 'SOURCE',
          ...source,
          gsi1pk: 'SOURCES',
          gsi1sk: source.sourceId,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `KEY#${hashWriteKey(writeKey)}`,
          sk: 'WRITE_KEY',
          sourceId: source.sourceId,
          createdAt: source.createdAt,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { source, writeKey };
  }

  /** The source a live write key belongs to, or undefined for unknown and revoked keys. */
  async authenticate(writeKey: string): Promise<string | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `KEY#${hashWriteKey(writeKey)}`, sk: 'WRITE_KEY' },
      }),
    );
    const record = Item as WriteKeyRecord | undefined;
    if (!record || record.revokedAt) return undefined;
    return record.sourceId;
  }
}
