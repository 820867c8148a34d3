import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { StoredMembership } from '../../core/segments/engine.js';
import { isRealtime } from '../../core/segments/evaluate.js';
import type { Segment, SegmentInput } from '../../core/segments/language.js';
import type { MembershipChange, MembershipState } from '../../core/segments/membership.js';
import { inParallel } from '../../core/shared/concurrency.js';
import { allOfKind, batchGet, batchWrite, type Item } from './batch.js';
import { ChangeCounter } from './change-counter.js';
import { decodeCursor, encodeCursor } from './cursor.js';

export interface RunSummary {
  readonly runId: string;
  /** `running` from the plan on; `succeeded` or `failed` when the run ends. */
  readonly status: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
  readonly segments: number;
  readonly profilesEvaluated?: number;
  readonly entered?: number;
  readonly exited?: number;
  readonly errors: ReadonlyArray<{ readonly error: string; readonly cause: string }>;
}

/**
 * Set on a merged-away profile's redirect once batch runs know it holds no membership and nothing can
 * give it one any more (see `sweepMergedAway`); runs stop reading redirects that carry it.
 */
export const MEMBERSHIPS_SETTLED_ATTRIBUTE = 'membershipsSettledAt';

const memberKey = (segmentId: string, profileId: string) => ({
  pk: `SEG#${segmentId}`,
  sk: `M#${profileId}`,
});
const isConflict = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException';

/**
 * Segment definitions and run summaries (control table) and memberships (profiles table, next to the
 * profiles they describe, so a GDPR delete finds them through the `byProfile` index).
 */
export class SegmentStore {
  readonly changes: ChangeCounter;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly controlTable: string,
    private readonly profilesTable: string,
  ) {
    this.changes = new ChangeCounter(ddb, controlTable, 'SEGMENTS');
  }

  async create(input: SegmentInput, now = new Date()): Promise<Segment> {
    const segment: Segment = {
      ...input,
      segmentId: `seg_${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      realtime: isRealtime(input.condition),
    };
    await this.ddb.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: {
          pk: `SEG#${segment.segmentId}`,
          sk: 'DEF',
          gsi1pk: 'SEGMENTS',
          gsi1sk: segment.segmentId,
          ...segment,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.changes.bump();
    return segment;
  }

  async get(segmentId: string): Promise<Segment | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.controlTable, Key: { pk: `SEG#${segmentId}`, sk: 'DEF' } }),
    );
    return Item ? strip(Item) : undefined;
  }

  async list(): Promise<Segment[]> {
    return (await allOfKind(this.ddb, this.controlTable, 'SEGMENTS')).map(strip);
  }

  async update(segmentId: string, input: SegmentInput, now = new Date()): Promise<Segment | undefined> {
    const existing = await this.get(segmentId);
    if (!existing) return undefined;
    const segment: Segment = {
      ...existing,
      ...input,
      updatedAt: now.toISOString(),
      realtime: isRealtime(input.condition),
    };
    await this.ddb.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: { pk: `SEG#${segmentId}`, sk: 'DEF', gsi1pk: 'SEGMENTS', gsi1sk: segmentId, ...segment },
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
    await this.changes.bump();
    return segment;
  }

  /** Deletes the definition and its memberships. */
  async delete(segmentId: string): Promise<boolean> {
    const existing = await this.get(segmentId);
    if (!existing) return false;
    await this.ddb.send(
      new DeleteCommand({ TableName: this.controlTable, Key: { pk: `SEG#${segmentId}`, sk: 'DEF' } }),
    );
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.ddb.send(
        new QueryCommand({
          TableName: this.profilesTable,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `SEG#${segmentId}` },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey,
        }),
      );
      await batchWrite(
        this.ddb,
        this.profilesTable,
        (page.Items ?? []).map((i) => ({ delete: { pk: i.pk as string, sk: i.sk as string } })),
      );
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return true;
  }

  async memberships(
    pairs: ReadonlyArray<{ segmentId: string; profileId: string }>,
    options: { consistent?: boolean } = {},
  ): Promise<Map<string, MembershipState>> {
    const items = await batchGet(
      this.ddb,
      this.profilesTable,
      pairs.map((p) => memberKey(p.segmentId, p.profileId)),
      options.consistent ?? true,
    );
    return new Map(
      items.map((i) => [`${i.segmentId as string}/${i.profileId as string}`, membershipState(i)]),
    );
  }

  /**
   * Every membership of these profiles, through the `byProfile` index. The index is eventually
   * consistent: a membership written a moment ago may be missing, which the batch run's sweep of
   * merged-away profiles catches later; generation conditions make a stale state harmless.
   */
  async membershipsOf(profileIds: readonly string[]): Promise<StoredMembership[]> {
    const out: StoredMembership[] = [];
    await inParallel(profileIds, async (profileId) => {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await this.ddb.send(
          new QueryCommand({
            TableName: this.profilesTable,
            IndexName: 'byProfile',
            KeyConditionExpression: 'gsi1pk = :p AND begins_with(gsi1sk, :s)',
            ExpressionAttributeValues: { ':p': `P#${profileId}`, ':s': 'SEG#' },
            ExclusiveStartKey,
          }),
        );
        for (const i of page.Items ?? [])
          out.push({ segmentId: i.segmentId as string, profileId, state: membershipState(i) });
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    });
    return out;
  }

  /** Marks redirects settled; a redirect that is gone (deleted since) needs no mark. */
  async settleMergedAway(profileIds: readonly string[], at: string): Promise<void> {
    await inParallel(profileIds, async (profileId) => {
      try {
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.profilesTable,
            Key: { pk: `P#${profileId}`, sk: 'PROFILE' },
            UpdateExpression: 'SET #settled = :at',
            ConditionExpression: 'attribute_exists(mergedInto)',
            ExpressionAttributeNames: { '#settled': MEMBERSHIPS_SETTLED_ATTRIBUTE },
            ExpressionAttributeValues: { ':at': at },
          }),
        );
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    });
  }

  /** Applies a change with a condition on the generation; false when someone else already applied it. */
  async apply(change: MembershipChange): Promise<boolean> {
    const at = change.delta.at;
    try {
      if (change.kind === 'entered') {
        await this.ddb.send(
          new PutCommand({
            TableName: this.profilesTable,
            Item: {
              ...memberKey(change.segmentId, change.profileId),
              segmentId: change.segmentId,
              profileId: change.profileId,
              status: 'member',
              generation: change.generation,
              enteredAt: at,
              contentHash: change.contentHash,
              gsi1pk: `P#${change.profileId}`,
              gsi1sk: `SEG#${change.segmentId}`,
            },
            ConditionExpression:
              change.expectedGeneration === undefined
                ? 'attribute_not_exists(pk)'
                : 'generation = :g AND #s = :former',
            ...(change.expectedGeneration === undefined
              ? {}
              : {
                  ExpressionAttributeNames: { '#s': 'status' },
                  ExpressionAttributeValues: { ':g': change.expectedGeneration, ':former': 'former' },
                }),
          }),
        );
      } else if (change.kind === 'updated') {
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.profilesTable,
            Key: memberKey(change.segmentId, change.profileId),
            UpdateExpression: 'SET contentHash = :h',
            ConditionExpression: 'generation = :g AND #s = :member AND contentHash = :old',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: {
              ':h': change.contentHash,
              ':g': change.generation,
              ':member': 'member',
              ':old': change.expectedContentHash,
            },
          }),
        );
      } else {
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.profilesTable,
            Key: memberKey(change.segmentId, change.profileId),
            UpdateExpression: 'SET #s = :former, exitedAt = :at',
            ConditionExpression: 'generation = :g AND #s = :member',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: {
              ':former': 'former',
              ':at': at,
              ':g': change.generation,
              ':member': 'member',
            },
          }),
        );
      }
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async listMembers(segmentId: string, options: { limit?: number; cursor?: string } = {}) {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.profilesTable,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
        FilterExpression: '#s = :member',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':pk': `SEG#${segmentId}`, ':m': 'M#', ':member': 'member' },
        Limit: options.limit ?? 100,
        ExclusiveStartKey: decodeCursor(options.cursor),
      }),
    );
    return {
      members: (res.Items ?? []).map((i) => ({
        profileId: i.profileId as string,
        enteredAt: i.enteredAt as string,
      })),
      ...(res.LastEvaluatedKey ? { cursor: encodeCursor(res.LastEvaluatedKey) } : {}),
    };
  }

  async segmentsOfProfile(profileId: string) {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.profilesTable,
        IndexName: 'byProfile',
        KeyConditionExpression: 'gsi1pk = :p AND begins_with(gsi1sk, :s)',
        ExpressionAttributeValues: { ':p': `P#${profileId}`, ':s': 'SEG#' },
      }),
    );
    return (res.Items ?? [])
      .filter((i) => i.status === 'member')
      .map((i) => ({ segmentId: i.segmentId as string, enteredAt: i.enteredAt as string }));
  }

  async saveRun(summary: RunSummary): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: {
          pk: `RUN#${summary.runId}`,
          sk: 'SUMMARY',
          gsi1pk: 'RUNS',
          gsi1sk: summary.startedAt,
          ...summary,
        },
      }),
    );
  }

  /** The latest batch runs, newest first (their history for the console). */
  async listRuns(limit = 20): Promise<RunSummary[]> {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.controlTable,
        IndexName: 'byLookup',
        KeyConditionExpression: 'gsi1pk = :r',
        ExpressionAttributeValues: { ':r': 'RUNS' },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map(
      ({ pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...summary }) => summary as RunSummary,
    );
  }

  async getRun(runId: string): Promise<RunSummary | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.controlTable, Key: { pk: `RUN#${runId}`, sk: 'SUMMARY' } }),
    );
    if (!Item) return undefined;
    const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...summary } = Item;
    return summary as RunSummary;
  }
}

function membershipState(i: Record<string, unknown>): MembershipState {
  return {
    status: i.status as 'member' | 'former',
    generation: i.generation as number,
    enteredAt: i.enteredAt as string,
    exitedAt: i.exitedAt as string | undefined,
    contentHash: i.contentHash as string | undefined,
  };
}

function strip(item: Record<string, unknown>): Segment {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...segment } = item as Item;
  return segment as unknown as Segment;
}
