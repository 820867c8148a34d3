import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { hashIdentity } from '../../core/govern/subject-identifiers.js';
import type { Identity } from '../../core/profiles/profile.js';
import { allOfKind } from './batch.js';
import { ChangeCounter } from './change-counter.js';

/**
 * Suppressed identifiers, as hashes only: `SUPPRESS#<sha256(type:value)>` / `SUPPRESS` in the control
 * table (`gsi1pk = SUPPRESSIONS`). The collector loads the set and re-reads it when the change counter
 * moves.
 */
export class SuppressionStore {
  readonly changes: ChangeCounter;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.changes = new ChangeCounter(ddb, table, 'SUPPRESSIONS');
  }

  async suppress(ids: readonly Identity[], regulationId: string, now = new Date()): Promise<void> {
    for (const id of ids) {
      const hash = hashIdentity(id);
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `SUPPRESS#${hash}`,
            sk: 'SUPPRESS',
            gsi1pk: 'SUPPRESSIONS',
            gsi1sk: hash,
            regulationId,
            createdAt: now.toISOString(),
          },
        }),
      );
    }
    await this.changes.bump();
  }

  async unsuppress(ids: readonly Identity[]): Promise<number> {
    for (const id of ids)
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: `SUPPRESS#${hashIdentity(id)}`, sk: 'SUPPRESS' },
        }),
      );
    await this.changes.bump();
    return ids.length;
  }

  async hashes(): Promise<Set<string>> {
    return new Set((await allOfKind(this.ddb, this.table, 'SUPPRESSIONS')).map((i) => i.gsi1sk as string));
  }
}
