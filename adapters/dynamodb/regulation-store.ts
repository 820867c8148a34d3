import { randomUUID } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { StoreName, StoreOutcome } from '../../core/govern/regulation.js';
import { CONTROL_TABLE } from '../../resources/tables.js';
import { decodeCursor, encodeCursor } from './cursor.js';

export interface Regulation {
  readonly regulationId: string;
  readonly type: string;
  /** SHA-256 of each `type:value`: the audit log never holds the personal data itself. */
  readonly identifierHashes: readonly string[];
  readonly identifierTypes: readonly string[];
  readonly requestedBy: string;
  readonly createdAt: string;
  readonly status: 'running' | 'completed' | 'failed';
  readonly stores: Partial<Record<StoreName, StoreOutcome>>;
  readonly completedAt?: string;
}

/** Regulations and their audit trail: `REG#<id>` / `REGULATION` (`gsi1pk = REGULATIONS`, by time). */
export class RegulationStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(
    input: Omit<Regulation, 'regulationId' | 'createdAt' | 'status' | 'stores'>,
    now = new Date(),
  ): Promise<Regulation> {
    const regulation: Regulation = {
      ...input,
      regulationId: `reg_${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      createdAt: now.toISOString(),
      status: 'running',
      stores: {},
    };
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: `REG#${regulation.regulationId}`,
          sk: 'REGULATION',
          gsi1pk: 'REGULATIONS',
          gsi1sk: regulation.createdAt,
          ...regulation,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return regulation;
  }

  async get(id: string): Promise<Regulation | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: `REG#${id}`, sk: 'REGULATION' } }),
    );
    return Item ? toRegulation(Item) : undefined;
  }

  /**
   * The audit log, newest first. With `identifierHash`, only regulations that named that identifier:
   * how to show a person's request was honoured without keeping who they are.
   */
  async list(options: { limit: number; cursor?: string; identifierHash?: string }) {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: CONTROL_TABLE.globalSecondaryIndexes[0]!.indexName,
        KeyConditionExpression: 'gsi1pk = :all',
        ...(options.identifierHash
          ? {
              FilterExpression: 'contains(identifierHashes, :h)',
              ExpressionAttributeValues: { ':all': 'REGULATIONS', ':h': options.identifierHash },
            }
          : { ExpressionAttributeValues: { ':all': 'REGULATIONS' } }),
        ScanIndexForward: false,
        Limit: options.limit,
        ExclusiveStartKey: decodeCursor(options.cursor),
      }),
    );
    return {
      regulations: (res.Items ?? []).map(toRegulation),
      ...(res.LastEvaluatedKey ? { cursor: encodeCursor(res.LastEvaluatedKey) } : {}),
    };
  }

  async recordStore(id: string, store: StoreName, outcome: StoreOutcome): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `REG#${id}`, sk: 'REGULATION' },
        UpdateExpression: 'SET stores.#s = :o',
        ExpressionAttributeNames: { '#s': store },
        ExpressionAttributeValues: { ':o': outcome },
      }),
    );
  }

  async finish(id: string, status: 'completed' | 'failed', now = new Date()): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `REG#${id}`, sk: 'REGULATION' },
        UpdateExpression: 'SET #st = :s, completedAt = :t',
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: { ':s': status, ':t': now.toISOString() },
      }),
    );
  }
}

function toRegulation(item: Record<string, unknown>): Regulation {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...rest } = item;
  return rest as unknown as Regulation;
}
