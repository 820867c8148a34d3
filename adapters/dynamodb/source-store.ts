import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { generateWriteKey, hashWriteKey } from '../../core/collect/write-keys.js';
import { allOfKind } from './batch.js';

/**
 * Sources and their write keys in the control table.
 *   pk = SRC#<sourceId>, sk = SOURCE            -> { name, createdAt, keyHash, revokedAt? }
 *   pk = KEY#<sha256(writeKey)>, sk = WRITE_KEY -> { sourceId, createdAt, revokedAt? }
 * The key item makes authentication one GetItem by hash; the raw key is never stored.
 */
export interface Source {
  readonly sourceId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
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
          keyHash: hashWriteKey(writeKey),
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

  async listSources(): Promise<Source[]> {
    return (await allOfKind(this.ddb, this.tableName, 'SOURCES')).map((item) => ({
      sourceId: item.sourceId as string,
      name: item.name as string,
      createdAt: item.createdAt as string,
      ...(item.revokedAt ? { revokedAt: item.revokedAt as string } : {}),
    }));
  }

  /** Revokes the source's write key; returns false for an unknown source. Idempotent. */
  async revokeSource(sourceId: string, now = new Date()): Promise<boolean> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: `SRC#${sourceId}`, sk: 'SOURCE' } }),
    );
    if (!Item) return false;
    const revokedAt = now.toISOString();
    // The key item first: once it is revoked the key stops working, whatever happens next.
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `KEY#${Item.keyHash as string}`, sk: 'WRITE_KEY' },
        UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :t)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': revokedAt },
      }),
    );
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `SRC#${sourceId}`, sk: 'SOURCE' },
        UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :t)',
        ExpressionAttributeValues: { ':t': revokedAt },
      }),
    );
    return true;
  }
}

/**
 * Caches key lookups inside a warm Lambda so ingest costs no DynamoDB read per request. A revoked key
 * keeps working for at most `ttlMs` on instances that cached it (60 s by default, documented); unknown
 * keys are cached briefly so a flood of bad keys cannot turn into a flood of reads.
 */
export class CachedAuthenticator {
  private readonly cache = new Map<string, { sourceId: string | undefined; expires: number }>();

  constructor(
    private readonly store: Pick<SourceStore, 'authenticate'>,
    private readonly ttlMs = 60_000,
    private readonly negativeTtlMs = 5_000,
    private readonly maxEntries = 1_000,
  ) {}

  async authenticate(writeKey: string, now = Date.now()): Promise<string | undefined> {
    const hit = this.cache.get(writeKey);
    if (hit && hit.expires > now) return hit.sourceId;
    const sourceId = await this.store.authenticate(writeKey);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(writeKey, { sourceId, expires: now + (sourceId ? this.ttlMs : this.negativeTtlMs) });
    return sourceId;
  }
}
