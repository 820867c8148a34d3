import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Identity } from '../../core/profiles/profile.js';

/**
 * The subject of a running deletion: identifiers and profile ids, in the (encrypted) control table for
 * at most a day and deleted when the job finishes. Steps read it here so personal data never travels
 * through Step Functions state.
 */
export interface WorkItem {
  readonly regulationId: string;
  readonly type: string;
  /** When the regulations API accepted the deletion: the tombstones' cut-off. */
  readonly acceptedAt?: string;
  readonly requested: Identity[];
  subject: Identity[];
  profileIds: string[];
  /** The surviving profile of each person (destinations know people by these). */
  rootIds?: string[];
  /** Open shards of the events stream the barrier was put on, and when. */
  barrier?: { shards: string[]; at: string };
  /** Figures gathered across steps for the audit log. */
  counts?: Record<string, number>;
}

const key = (id: string) => ({ pk: `REGWORK#${id}`, sk: 'WORK' });

export class WorkItems {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async put(item: WorkItem, now = new Date()): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...key(item.regulationId), ...item, expiresAt: Math.floor(now.getTime() / 1000) + 86_400 },
      }),
    );
  }

  async get(id: string): Promise<WorkItem> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: key(id), ConsistentRead: true }),
    );
    if (!Item) throw new Error(`No work item for regulation ${id}`);
    return Item as unknown as WorkItem;
  }

  async delete(id: string): Promise<void> {
    await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: key(id) }));
  }
}
