import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { StoredMembership } from '../../core/segments/engine.js';
import { inParallel } from '../../core/shared/concurrency.js';
import { batchGet, type Item, queryAll } from './batch.js';
import { isConditionFailed } from './errors.js';
import {
  legacyMembershipKey,
  MEMBERSHIP_ATTRIBUTES,
  membershipIndexKeys,
  membershipKey,
  storedMembership,
} from './membership-item.js';

/** Control-table item the migration writes once no membership of the old layout is left. */
export const MEMBERSHIPS_MIGRATED_KEY = { pk: 'MIGRATION#MEMBERSHIPS', sk: 'DONE' } as const;

/** How long an instance trusts a "not migrated yet" answer before asking again. */
const RECHECK_MS = 60_000;

/**
 * Memberships of the layout before they moved under their profile (`SEG#<segmentId>` / `M#<profileId>`,
 * `gsi1pk = P#<profileId>`). A deployed table keeps them until `migrate-memberships` has run; until it
 * has marked the table migrated, readers also look here, and move what they find to the current layout
 * (`moveToCurrent`), so a segment run before the migration neither re-enters nor forgets anyone.
 * Once the mark is seen this class costs nothing; it can go once every deployment has migrated.
 */
export class LegacyMemberships {
  private migrated = false;
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly profilesTable: string,
    private readonly controlTable: string,
  ) {}

  /** Whether old-layout items may still exist (until the migration's mark is seen). */
  async possible(): Promise<boolean> {
    if (this.migrated) return false;
    if (Date.now() - this.checkedAt < RECHECK_MS) return true;
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.controlTable, Key: MEMBERSHIPS_MIGRATED_KEY, ConsistentRead: true }),
    );
    this.checkedAt = Date.now();
    this.migrated = Item !== undefined;
    return !this.migrated;
  }

  async markMigrated(at: Date, counts: Record<string, number>): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: { ...MEMBERSHIPS_MIGRATED_KEY, migratedAt: at.toISOString(), ...counts },
      }),
    );
    this.migrated = true;
  }

  /**
   * Copies an old-layout item to its current key unless a current item exists (which is newer: only the
   * current layout is written now), then deletes the old one. Safe to repeat and to race: whoever loses
   * the conditional put only deletes. Returns whether this call made the copy.
   */
  async moveToCurrent(item: Record<string, unknown>): Promise<boolean> {
    const segmentId = item.segmentId as string;
    const profileId = item.profileId as string;
    const attributes = Object.fromEntries(
      MEMBERSHIP_ATTRIBUTES.filter((a) => item[a] !== undefined).map((a) => [a, item[a]]),
    );
    let copied = true;
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.profilesTable,
          Item: {
            ...membershipKey(segmentId, profileId),
            ...attributes,
            ...membershipIndexKeys(segmentId, profileId),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      copied = false;
    }
    await this.ddb.send(
      new DeleteCommand({ TableName: this.profilesTable, Key: legacyMembershipKey(segmentId, profileId) }),
    );
    return copied;
  }

  /** Old-layout memberships of these pairs, moved to the current layout on the way. */
  async find(
    pairs: ReadonlyArray<{ segmentId: string; profileId: string }>,
    consistent: boolean,
  ): Promise<StoredMembership[]> {
    if (pairs.length === 0) return [];
    const found = await batchGet(
      this.ddb,
      this.profilesTable,
      pairs.map((p) => legacyMembershipKey(p.segmentId, p.profileId)),
      consistent,
    );
    return this.moveAll(found);
  }

  /** Every old-layout membership of these profiles (through the index), moved on the way. */
  async ofProfiles(profileIds: readonly string[]): Promise<StoredMembership[]> {
    const found: Item[] = [];
    await inParallel(profileIds, async (profileId) => {
      const items = await queryAll(this.ddb, {
        TableName: this.profilesTable,
        IndexName: 'byProfile',
        KeyConditionExpression: 'gsi1pk = :p AND begins_with(gsi1sk, :s)',
        ExpressionAttributeValues: { ':p': `P#${profileId}`, ':s': 'SEG#' },
      });
      found.push(...(items as Item[]));
    });
    return this.moveAll(found);
  }

  /** One page of a segment's old-layout members (read only: listing is not worth a write). */
  async membersPage(segmentId: string, limit: number, startKey: Record<string, unknown> | undefined) {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.profilesTable,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
        FilterExpression: '#s = :member',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':pk': `SEG#${segmentId}`, ':m': 'M#', ':member': 'member' },
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: res.Items ?? [], ...(res.LastEvaluatedKey ? { next: res.LastEvaluatedKey } : {}) };
  }

  /** Keys of every old-layout item of a segment (for its deletion). */
  async keysOfSegment(segmentId: string): Promise<Array<{ pk: string; sk: string }>> {
    const items = await queryAll(this.ddb, {
      TableName: this.profilesTable,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `SEG#${segmentId}` },
      ProjectionExpression: 'pk, sk',
    });
    return items.map((i) => ({ pk: i.pk as string, sk: i.sk as string }));
  }

  /** Moves each found item; where a current item already existed, that one is the answer. */
  private async moveAll(found: readonly Record<string, unknown>[]): Promise<StoredMembership[]> {
    const out: StoredMembership[] = [];
    await inParallel(found, async (item) => {
      if (await this.moveToCurrent(item)) {
        out.push(storedMembership(item));
        return;
      }
      const { Item } = await this.ddb.send(
        new GetCommand({
          TableName: this.profilesTable,
          Key: membershipKey(item.segmentId as string, item.profileId as string),
          ConsistentRead: true,
        }),
      );
      if (Item) out.push(storedMembership(Item));
    });
    return out;
  }
}
