import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ReplayCounts, ReplayCursor } from '../../core/replay/plan.js';
import type { ReplayRequest } from '../../core/replay/request.js';
import { CONTROL_TABLE } from '../../resources/tables.js';
import { updateJobRecord } from './status-update.js';

/**
 * Replays in the control table:
 *   pk = REPLAY#<replayId>, sk = REPLAY  -> the record below (gsi1pk = REPLAYS, gsi1sk = createdAt#id)
 *   pk = REPLAYS, sk = ACTIVE            -> { replayId }: the one replay that may run (they share a lane)
 */
export type ReplayStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ReplayRecord {
  readonly replayId: string;
  readonly request: ReplayRequest;
  readonly status: ReplayStatus;
  readonly counts: ReplayCounts;
  /** The hour partition in progress and how far into it. */
  readonly cursor: ReplayCursor;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly error?: string;
  /**
   * When the erasure check of the last committed batch ran: a deletion accepted before it cannot have
   * been missed by anything this replay commits from then on (the deletion waits for it).
   */
  readonly screenedAt?: string;
}

const strip = (item: Record<string, unknown>): ReplayRecord => {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _gs, ...rest } = item;
  return rest as unknown as ReplayRecord;
};

export class ReplayStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(replayId: string): Promise<ReplayRecord | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `REPLAY#${replayId}`, sk: 'REPLAY' },
        ConsistentRead: true,
      }),
    );
    return Item ? strip(Item) : undefined;
  }

  async create(record: ReplayRecord): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `REPLAY#${record.replayId}`,
          sk: 'REPLAY',
          gsi1pk: 'REPLAYS',
          gsi1sk: `${record.createdAt}#${record.replayId}`,
          ...record,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** Sets fields; with `expectStatus`, only while the record is in one of those states (false otherwise). */
  async update(
    replayId: string,
    fields: Partial<Omit<ReplayRecord, 'replayId' | 'request'>>,
    expectStatus?: readonly ReplayStatus[],
  ): Promise<boolean> {
    return updateJobRecord(
      this.ddb,
      this.tableName,
      { pk: `REPLAY#${replayId}`, sk: 'REPLAY' },
      fields,
      expectStatus,
    );
  }

  /** Newest first. */
  async list(limit: number, after?: string): Promise<{ replays: ReplayRecord[]; cursor?: string }> {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: CONTROL_TABLE.globalSecondaryIndexes[0]!.indexName,
        KeyConditionExpression: 'gsi1pk = :k',
        ExpressionAttributeValues: { ':k': 'REPLAYS' },
        ScanIndexForward: false,
        Limit: limit,
        ...(after ? { ExclusiveStartKey: JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) } : {}),
      }),
    );
    const replays = (res.Items ?? []).map(strip);
    return {
      replays,
      ...(res.LastEvaluatedKey
        ? { cursor: Buffer.from(JSON.stringify(res.LastEvaluatedKey)).toString('base64url') }
        : {}),
    };
  }

  /**
   * Takes the single replay slot for `replayId`: false when another replay holds it and is still
   * queued or running (a slot left by a finished or failed one is taken over).
   */
  async claimSlot(replayId: string): Promise<{ ok: true } | { ok: false; holder: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.ddb.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { pk: 'REPLAYS', sk: 'ACTIVE', replayId },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return { ok: true };
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      }
      const { Item } = await this.ddb.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: 'REPLAYS', sk: 'ACTIVE' },
          ConsistentRead: true,
        }),
      );
      const holder = Item?.replayId as string | undefined;
      if (!holder) continue;
      const held = await this.get(holder);
      if (held && (held.status === 'queued' || held.status === 'running')) return { ok: false, holder };
      await this.releaseSlot(holder);
    }
    return { ok: false, holder: 'unknown' };
  }

  /** The replay holding the slot, while it is queued or running. */
  async active(): Promise<ReplayRecord | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: 'REPLAYS', sk: 'ACTIVE' },
        ConsistentRead: true,
      }),
    );
    const holder = Item?.replayId as string | undefined;
    const held = holder ? await this.get(holder) : undefined;
    return held && (held.status === 'queued' || held.status === 'running') ? held : undefined;
  }

  async releaseSlot(replayId: string): Promise<void> {
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: 'REPLAYS', sk: 'ACTIVE' },
          ConditionExpression: 'replayId = :id',
          ExpressionAttributeValues: { ':id': replayId },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    }
  }
}
