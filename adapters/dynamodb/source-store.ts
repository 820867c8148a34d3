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
  /** When the write key was last rotated, and until when the key before it still works. */
  readonly rotatedAt?: string;
  readonly previousKeyExpiresAt?: string;
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
    // A rotated key carries a revokedAt in the future: it works until then (the overlap).
    if (!record || (record.revokedAt && record.revokedAt <= new Date().toISOString())) return undefined;
    return record.sourceId;
  }

  /**
   * A new write key for the source; the current one keeps working for `overlapHours` (0 = revoked now),
   * so apps can be redeployed with the new key before the old one stops. The new key is returned once.
   */
  async rotateKey(
    sourceId: string,
    overlapHours: number,
    now = new Date(),
    writeKey = generateWriteKey(),
  ): Promise<{ writeKey: string; previousKeyExpiresAt: string } | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: `SRC#${sourceId}`, sk: 'SOURCE' } }),
    );
    if (!Item || Item.revokedAt) return undefined;
    const newHash = hashWriteKey(writeKey);
    const expiresAt = new Date(now.getTime() + overlapHours * 3_600_000).toISOString();
    // The new key first: if anything below fails, the old key still works and a retry rotates again.
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `KEY#${newHash}`, sk: 'WRITE_KEY', sourceId, createdAt: now.toISOString() },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.ddb
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `KEY#${Item.keyHash as string}`, sk: 'WRITE_KEY' },
          // Never extends an earlier, shorter deadline.
          UpdateExpression: 'SET revokedAt = :t',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(revokedAt) OR revokedAt > :t)',
          ExpressionAttributeValues: { ':t': expiresAt },
        }),
      )
      .catch((err: Error) => {
        if (err.name !== 'ConditionalCheckFailedException') throw err;
      });
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `SRC#${sourceId}`, sk: 'SOURCE' },
        UpdateExpression:
          'SET keyHash = :new, previousKeyHash = :old, previousKeyExpiresAt = :t, rotatedAt = :now',
        ExpressionAttributeValues: {
          ':new': newHash,
          ':old': Item.keyHash,
          ':t': expiresAt,
          ':now': now.toISOString(),
        },
      }),
    );
    return { writeKey, previousKeyExpiresAt: expiresAt };
  }

  async listSources(): Promise<Source[]> {
    return (await allOfKind(this.ddb, this.tableName, 'SOURCES')).map((item) => ({
      sourceId: item.sourceId as string,
      name: item.name as string,
      createdAt: item.createdAt as string,
      ...(item.revokedAt ? { revokedAt: item.revokedAt as string } : {}),
      ...(item.rotatedAt ? { rotatedAt: item.rotatedAt as string } : {}),
      ...(item.previousKeyExpiresAt ? { previousKeyExpiresAt: item.previousKeyExpiresAt as string } : {}),
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
    if (Item.previousKeyHash)
      await this.ddb
        .send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: `KEY#${Item.previousKeyHash as string}`, sk: 'WRITE_KEY' },
            // Revoking the source ends a rotation's overlap too.
            UpdateExpression: 'SET revokedAt = :t',
            ConditionExpression: 'attribute_exists(pk) AND revokedAt > :t',
            ExpressionAttributeValues: { ':t': revokedAt },
          }),
        )
        .catch((err: Error) => {
          if (err.name !== 'ConditionalCheckFailedException') throw err;
        });
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
