import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Tombstone } from '../../core/govern/tombstones.js';
import { allOfKind, batchWrite } from './batch.js';

/** Tombstones outlive every place a record of the person can still come from (see README "Erasure"). */
export const TOMBSTONE_TTL_DAYS = 35;
const BARRIER_TTL_SECONDS = 2 * 86_400;
const COUNTER = { pk: 'CHANGES#ERASURES', sk: 'COUNTER' };

/**
 * Erasure tombstones and barrier passes in the control table:
 * - `ERASED#<hash>` / `REG#<regulationId>` (`gsi1pk = ERASURES`): one identifier hash of a person
 *   being (or recently) deleted, its acceptance time and whether it also suppresses (TTL 35 days);
 * - `CHANGES#ERASURES` / `COUNTER`: bumped when tombstones change, read by every batch of every stage;
 * - `REGBARRIER#<regulationId>` / `<consumer>#<shard>`: that stream consumer passed the deletion's
 *   barrier record on that shard (TTL 2 days).
 */
export class TombstoneStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async record(tombstones: readonly Tombstone[], now = new Date()): Promise<void> {
    if (tombstones.length === 0) return;
    const expiresAt = Math.floor(now.getTime() / 1000) + TOMBSTONE_TTL_DAYS * 86_400;
    await batchWrite(
      this.ddb,
      this.table,
      tombstones.map((t) => ({
        put: {
          pk: `ERASED#${t.hash}`,
          sk: `REG#${t.regulationId}`,
          gsi1pk: 'ERASURES',
          gsi1sk: `${t.hash}#${t.regulationId}`,
          ...t,
          expiresAt,
        },
      })),
    );
    await this.bump();
  }

  /** `unsuppress`: the person's tombstones keep erasing what came before, no longer what comes after. */
  async lift(hashes: readonly string[]): Promise<number> {
    let lifted = 0;
    for (const hash of hashes) {
      const { Items = [] } = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': `ERASED#${hash}` },
          ProjectionExpression: 'pk, sk, suppress',
        }),
      );
      for (const item of Items.filter((i) => i.suppress)) {
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: item.pk, sk: item.sk },
            UpdateExpression: 'SET suppress = :f',
            ExpressionAttributeValues: { ':f': false },
          }),
        );
        lifted++;
      }
    }
    if (lifted) await this.bump();
    return lifted;
  }

  async all(): Promise<Tombstone[]> {
    return (await allOfKind(this.ddb, this.table, 'ERASURES')).map((i) => ({
      hash: i.hash as string,
      regulationId: i.regulationId as string,
      acceptedAt: i.acceptedAt as string,
      suppress: Boolean(i.suppress),
    }));
  }

  /**
   * The tombstones' version, read strongly consistent: a batch that starts after a tombstone was written
   * always sees it (one 4 KB read per batch, whatever its size).
   */
  async version(): Promise<number> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: COUNTER, ConsistentRead: true }),
    );
    return (Item?.v as number | undefined) ?? 0;
  }

  private async bump(): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: COUNTER,
        UpdateExpression: 'ADD v :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  async passBarrier(regulationId: string, consumer: string, shard: string, now = new Date()): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: `REGBARRIER#${regulationId}`,
          sk: `${consumer}#${shard}`,
          passedAt: now.toISOString(),
          expiresAt: Math.floor(now.getTime() / 1000) + BARRIER_TTL_SECONDS,
        },
      }),
    );
  }

  /** `<consumer>#<shard>` of every pass recorded for a regulation's barrier. */
  async passes(regulationId: string): Promise<Set<string>> {
    const { Items = [] } = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': `REGBARRIER#${regulationId}` },
        ProjectionExpression: 'sk',
        ConsistentRead: true,
      }),
    );
    return new Set(Items.map((i) => i.sk as string));
  }
}
