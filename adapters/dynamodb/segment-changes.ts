import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Profile } from '../../core/profiles/profile.js';
import { type ProfileState, toProfile } from '../../core/profiles/state.js';
import type { StoredMembership } from '../../core/segments/engine.js';
import {
  CHANGE_LOG_PARTITIONS,
  CHANGE_LOG_RETENTION_MS,
  dueBuckets,
  shardOf,
  type Watermark,
} from '../../core/segments/incremental.js';
import type { KnownMemberships } from '../../core/segments/known-memberships.js';
import { inParallel } from '../../core/shared/concurrency.js';
import { batchWrite, type Item } from './batch.js';
import { isMembershipItem, storedMembership } from './membership-item.js';
import { stateFromItem, withTraitValues } from './profile-item.js';
import { keys } from './profile-keys.js';
import { readProfileItem } from './profile-read.js';
import type { Redirect } from './profile-reader.js';

/**
 * The incremental run's bookkeeping, in the control table (never scanned by runs):
 *
 * - `CHANGES#<0..3>` / `<time>#<hash>`: the ids of the profiles one processor batch committed
 *   (`ids`, space-separated), one item per batch, not one per profile;
 * - `DUE#<bucket>` / `<run>#<scan segment>#<hash>`: profiles whose answer can change with time alone
 *   in that 5-minute bucket, one item per evaluated page and bucket;
 * - `SEGRUN#WATERMARK` / `WATERMARK`: what the last finished scheduled run covered.
 *
 * Entries are over-approximate on purpose (a profile listed twice, or listed and then merged or
 * deleted, is evaluated and found unchanged), so replays and retries need no conditions.
 */
export class SegmentChangeLog {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly controlTable: string,
    private readonly profilesTable: string,
  ) {}

  /** One item per call (a processor batch); retried batches overwrite their own item. */
  async recordChanged(profileIds: readonly string[], at: Date): Promise<void> {
    const ids = [...new Set(profileIds)].sort();
    if (ids.length === 0) return;
    // A batch of 500 records holds at most 500 ids of ~26 characters: far below the 400 KB item limit.
    const hash = createHash('sha256').update(ids.join(' ')).digest('hex').slice(0, 16);
    await this.ddb.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: {
          pk: `CHANGES#${shardOf(hash, CHANGE_LOG_PARTITIONS)}`,
          sk: `${at.toISOString()}#${hash}`,
          ids: ids.join(' '),
          expiresAt: Math.floor((at.getTime() + CHANGE_LOG_RETENTION_MS) / 1000),
        },
      }),
    );
  }

  /** Records, per due bucket, the profiles whose answer can change then. */
  async recordDue(groups: ReadonlyMap<number, readonly string[]>, writer: string): Promise<number> {
    const puts = [...groups].map(([bucket, list]) => {
      const ids = [...new Set(list)].sort().join(' ');
      const hash = createHash('sha256').update(ids).digest('hex').slice(0, 16);
      return {
        put: {
          pk: `DUE#${new Date(bucket).toISOString()}`,
          sk: `${writer}#${hash}`,
          // Listed under one lookup key so that an erasure can find a person's entries (see `forget`).
          gsi1pk: DUE_LOOKUP,
          gsi1sk: new Date(bucket).toISOString(),
          ids,
          expiresAt: Math.floor((bucket + CHANGE_LOG_RETENTION_MS) / 1000),
        },
      };
    });
    await batchWrite(this.ddb, this.controlTable, puts);
    return puts.length;
  }

  /** What an incremental run reads, in order: the change log partitions, then the due buckets. */
  sources(since: string, until: string): Source[] {
    // A clock behind the previous run's by more than the margin reads nothing rather than failing.
    if (since > until) return [];
    const changes = Array.from({ length: CHANGE_LOG_PARTITIONS }, (_, k) => ({
      pk: `CHANGES#${k}`,
      range: [since, `${until}~`] as [string, string],
    }));
    const due = dueBuckets(Date.parse(since), Date.parse(until)).map((b) => ({
      pk: `DUE#${new Date(b).toISOString()}`,
    }));
    return [...changes, ...due];
  }

  /** One page of one source: the ids in it that belong to `shard` of `shards`. */
  async page(
    source: Source,
    shard: number,
    shards: number,
    startKey: Record<string, unknown> | undefined,
    limit: number,
  ): Promise<{ ids: string[]; next?: Record<string, unknown> }> {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.controlTable,
        KeyConditionExpression: source.range ? 'pk = :pk AND sk BETWEEN :lo AND :hi' : 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': source.pk,
          ...(source.range ? { ':lo': source.range[0], ':hi': source.range[1] } : {}),
        },
        ProjectionExpression: 'ids',
        ExclusiveStartKey: startKey,
        Limit: limit,
      }),
    );
    const ids = (res.Items ?? []).flatMap((i) =>
      String(i.ids ?? '')
        .split(' ')
        .filter((id) => id !== '' && shardOf(id, shards) === shard),
    );
    return { ids, ...(res.LastEvaluatedKey ? { next: res.LastEvaluatedKey } : {}) };
  }

  /**
   * The profiles behind these ids, as a scan page would give them: live ones, and merged-away ones not
   * yet marked `unlessMarked` (their leftover memberships are swept), each with its memberships. Ids
   * with no profile are skipped.
   *
   * One Query per profile, from `PROFILE` on in its partition: the profile item and its membership
   * items in one request, half a read unit for the usual few KB. A BatchGet of the profiles and a read
   * of their memberships afterwards cost more (see `bench:cost`, run 3).
   *
   * Eventually consistent, like a full run's scan: a change committed a moment before this read may
   * not show yet, but every run reads the change log from `CHANGE_LOG_MARGIN_MS` (15 minutes) before
   * where the previous one stopped, so the next run evaluates that person again on settled data. A
   * decision made on the earlier state is harmless meanwhile: membership writes are conditional on
   * the generation read with it, so it never overwrites what real-time evaluation changed since.
   */
  async read(
    ids: readonly string[],
    unlessMarked: string,
  ): Promise<{ items: ProfileState[]; redirects: Redirect[]; memberships: KnownMemberships }> {
    const items: ProfileState[] = [];
    const redirects: Redirect[] = [];
    const memberships = new Map<string, StoredMembership[]>();
    await inParallel([...new Set(ids)], async (id) => {
      const found: Item[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await this.ddb.send(
          new QueryCommand({
            TableName: this.profilesTable,
            // MERGE# items sort before PROFILE: the range leaves them out.
            KeyConditionExpression: 'pk = :pk AND sk >= :profile',
            ExpressionAttributeValues: { ':pk': keys.profilePk(id), ':profile': 'PROFILE' },
            ConsistentRead: false,
            ExclusiveStartKey,
          }),
        );
        found.push(...((page.Items ?? []) as Item[]));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      const stored = found.find((i) => i.sk === 'PROFILE');
      if (!stored) return;
      // With its trait values, which sort right after it (read again whole if this read met a trait
      // change half way).
      const item =
        withTraitValues(stored, found) ?? (await readProfileItem(this.ddb, this.profilesTable, id, true));
      if (!item) return;
      if (item.mergedInto && item[unlessMarked] !== undefined) return;
      memberships.set(id, found.filter(isMembershipItem).map(storedMembership));
      if (!item.mergedInto) {
        items.push(stateFromItem(item));
        return;
      }
      const state = stateFromItem(item);
      const profile: Profile = toProfile({
        ...state,
        profileId: state.profileId ?? item.pk.slice('P#'.length),
        traits: state.traits ?? {},
        consent: state.consent ?? {},
        identities: state.identities ?? [],
      });
      redirects.push({
        profile,
        into: item.mergedInto as string,
        ...(typeof item.mergedAt === 'string' ? { mergedAt: item.mergedAt } : {}),
      });
    });
    return { items, redirects, memberships };
  }

  /**
   * Erasure: removes these profile ids from every change-log and due entry that lists them (entries
   * left empty are deleted), so nothing of an erased person stays in segmentation's bookkeeping until
   * its TTL. Reads the live span of the change log (7 days) and the due index once, filtered on the
   * ids; that is paid per regulation, not per event. Returns how many entries changed.
   */
  async forget(profileIds: readonly string[], now: Date): Promise<number> {
    const doomed = new Set(profileIds);
    if (doomed.size === 0) return 0;
    const since = new Date(now.getTime() - CHANGE_LOG_RETENTION_MS).toISOString();
    const ids = [...doomed];
    const filter = ids.map((_, i) => `contains(ids, :id${i})`).join(' OR ');
    const values = Object.fromEntries(ids.map((id, i) => [`:id${i}`, id]));
    const queries = [
      ...Array.from({ length: CHANGE_LOG_PARTITIONS }, (_, k) => ({
        KeyConditionExpression: 'pk = :pk AND sk >= :since',
        ExpressionAttributeValues: { ':pk': `CHANGES#${k}`, ':since': since, ...values },
      })),
      {
        IndexName: 'byLookup',
        KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk >= :since',
        ExpressionAttributeValues: { ':pk': DUE_LOOKUP, ':since': since, ...values },
      },
    ];
    const changed: Item[] = [];
    for (const query of queries) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await this.ddb.send(
          new QueryCommand({
            TableName: this.controlTable,
            ...query,
            FilterExpression: filter,
            ExclusiveStartKey,
          }),
        );
        changed.push(...((page.Items ?? []) as Item[]));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
    const writes = changed.map((item) => {
      // `contains` matches substrings: keep every id that is not exactly one of the erased ones.
      const kept = String(item.ids ?? '')
        .split(' ')
        .filter((id) => id !== '' && !doomed.has(id));
      return kept.length === 0
        ? { delete: { pk: item.pk, sk: item.sk } }
        : { put: { ...item, ids: kept.join(' ') } };
    });
    await batchWrite(this.ddb, this.controlTable, writes);
    return writes.length;
  }

  async watermark(): Promise<Watermark | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({
        TableName: this.controlTable,
        Key: { pk: 'SEGRUN#WATERMARK', sk: 'WATERMARK' },
        ConsistentRead: true,
      }),
    );
    if (!Item || typeof Item.coveredUntil !== 'string') return undefined;
    return {
      coveredUntil: Item.coveredUntil,
      ...(typeof Item.lastFullAt === 'string' ? { lastFullAt: Item.lastFullAt } : {}),
      definitions: (Item.definitions ?? {}) as Record<string, string>,
    };
  }

  /** Moves the watermark forward, never back (a run that finishes late leaves a later one's mark). */
  async advance(next: Watermark): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.controlTable,
          Item: { pk: 'SEGRUN#WATERMARK', sk: 'WATERMARK', ...next },
          ConditionExpression: 'attribute_not_exists(pk) OR coveredUntil <= :c',
          ExpressionAttributeValues: { ':c': next.coveredUntil },
        }),
      );
      return true;
    } catch (err) {
      if (
        err instanceof ConditionalCheckFailedException ||
        (err as Error).name === 'ConditionalCheckFailedException'
      )
        return false;
      throw err;
    }
  }
}

/** The lookup key every due entry is listed under (`byLookup` index), for erasure. */
const DUE_LOOKUP = 'SEGDUE';

export interface Source {
  readonly pk: string;
  readonly range?: readonly [string, string];
}
