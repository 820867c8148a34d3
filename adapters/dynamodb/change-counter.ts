import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * A counter per kind of definition (`SEGMENTS`, `DESTINATIONS`) in the control table, bumped on every
 * change. Hot paths cache definitions and re-read them only when the counter moved: one small read
 * per batch instead of a full list, and no stale definitions after a change.
 */
export class ChangeCounter {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly kind: string,
  ) {}

  async bump(): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `CHANGES#${this.kind}`, sk: 'COUNTER' },
        UpdateExpression: 'ADD v :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  async read(): Promise<number> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: `CHANGES#${this.kind}`, sk: 'COUNTER' } }),
    );
    return (Item?.v as number | undefined) ?? 0;
  }
}

/** Caches a loader's result until the counter changes. */
export function cachedByCounter<T>(counter: ChangeCounter, load: () => Promise<T>): () => Promise<T> {
  let cache: { version: number; value: T } | undefined;
  return async () => {
    const version = await counter.read();
    if (!cache || cache.version !== version) cache = { version, value: await load() };
    return cache.value;
  };
}
