import { randomUUID } from 'node:crypto';
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
import { allOfKind, batchWrite, type Item } from './batch.js';
import { ChangeCounter } from './change-counter.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { isConditionFailed } from './errors.js';
import { LegacyMemberships } from './legacy-memberships.js';
import { membershipIndexKeys, membershipKey, queryMembershipsOf } from './membership-item.js';

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

/**
 * Segment definitions and run summaries (control table) and memberships (profiles table, in the
 * partition of the profile they describe: one Query reads all of a person's memberships, and a GDPR
 * delete of the partition takes them along). A segment's members are listed through the `byProfile`
 * index (`gsi1pk = SEG#<segmentId>`).
 */
export class SegmentStore {
  readonly changes: ChangeCounter;
  /** Memberships of the previous layout, read (and moved) until the table is migrated. */
  readonly legacy: LegacyMemberships;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly controlTable: string,
    private readonly profilesTable: string,
  ) {
    this.changes = new ChangeCounter(ddb, controlTable, 'SEGMENTS');
    this.legacy = new LegacyMemberships(ddb, profilesTable, controlTable);
  }

  /**
   * Whether memberships read together with their profiles (a scan page, a profile's partition) are all
   * of them: not while items of the previous layout may remain.
   */
  async partitionsHoldAllMemberships(): Promise<boolean> {
    return !(await this.legacy.possible());
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

  /**
   * Deletes the definition and its memberships, listed through the `byProfile` index. The index is
   * eventually consistent: a membership written a moment before may be missed, like one a run still in
   * flight writes after the delete. Such a leftover names a segment that no longer exists: evaluation
   * never asks for it, the Profile API's segment list leaves it out, and it goes with its profile.
   */
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
          IndexName: 'byProfile',
          KeyConditionExpression: 'gsi1pk = :s AND begins_with(gsi1sk, :m)',
          ExpressionAttributeValues: { ':s': `SEG#${segmentId}`, ':m': 'M#' },
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
    // Old-layout items have one partition per segment: one Query, even after the migration.
    await batchWrite(
      this.ddb,
      this.profilesTable,
      (await this.legacy.keysOfSegment(segmentId)).map((k) => ({ delete: k })),
    );
    return true;
  }

  /**
   * The stored state of these (segment, profile) pairs: one Query per profile (its partition from
   * `SEG#`), a few in parallel, so the cost follows the number of profiles, not of segments.
   */
  async memberships(
    pairs: ReadonlyArray<{ segmentId: string; profileId: string }>,
    options: { consistent?: boolean } = {},
  ): Promise<Map<string, MembershipState>> {
    const consistent = options.consistent ?? true;
    const wanted = new Map<string, Set<string>>();
    for (const p of pairs) {
      const segments = wanted.get(p.profileId) ?? new Set<string>();
      segments.add(p.segmentId);
      wanted.set(p.profileId, segments);
    }
    const out = new Map<string, MembershipState>();
    const keep = (m: StoredMembership) => {
      if (wanted.get(m.profileId)?.has(m.segmentId)) out.set(`${m.segmentId}/${m.profileId}`, m.state);
    };
    await inParallel([...wanted.keys()], async (profileId) => {
      for (const m of await queryMembershipsOf(this.ddb, this.profilesTable, profileId, consistent)) keep(m);
    });
    if (await this.legacy.possible()) {
      const missing = pairs.filter((p) => !out.has(`${p.segmentId}/${p.profileId}`));
      for (const m of await this.legacy.find(missing, consistent)) keep(m);
    }
    return out;
  }

  /** Every membership of these profiles, members or not: one consistent Query per profile. */
  async membershipsOf(profileIds: readonly string[]): Promise<StoredMembership[]> {
    const bySegment = new Map<string, StoredMembership>();
    await inParallel(profileIds, async (profileId) => {
      for (const m of await queryMembershipsOf(this.ddb, this.profilesTable, profileId, true))
        bySegment.set(`${m.segmentId}/${m.profileId}`, m);
    });
    if (await this.legacy.possible())
      for (const m of await this.legacy.ofProfiles(profileIds))
        bySegment.set(`${m.segmentId}/${m.profileId}`, m);
    return [...bySegment.values()];
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
        if (!isConditionFailed(err)) throw err;
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
              ...membershipKey(change.segmentId, change.profileId),
              segmentId: change.segmentId,
              profileId: change.profileId,
              status: 'member',
              generation: change.generation,
              enteredAt: at,
              contentHash: change.contentHash,
              ...membershipIndexKeys(change.segmentId, change.profileId),
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
            Key: membershipKey(change.segmentId, change.profileId),
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
            Key: membershipKey(change.segmentId, change.profileId),
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
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /**
   * A page of a segment's current members, through the `byProfile` index (`gsi1pk = SEG#<segmentId>`).
   * The index is eventually consistent: a member who entered a moment ago may be missing for that
   * moment. Its callers can live with that: the API answers as of about now; audience exports run at
   * the end of a batch run, after its writes, and a late member is in the next export; catch-up runs
   * read memberships from the profiles they evaluate, not from here.
   *
   * While old-layout items may remain, their segment partition is listed first (cursors say which
   * part they are in); a membership moved between two pages can then be listed twice.
   */
  async listMembers(segmentId: string, options: { limit?: number; cursor?: string } = {}) {
    const limit = options.limit ?? 100;
    const at = decodeCursor(options.cursor);
    if (at !== undefined && (typeof at !== 'object' || at === null || Array.isArray(at)))
      throw new RangeError('The cursor is not valid');
    const members: Array<{ profileId: string; enteredAt: string }> = [];
    const toMember = (i: Record<string, unknown>) => ({
      profileId: i.profileId as string,
      enteredAt: i.enteredAt as string,
    });
    const legacyCursor = at && 'legacy' in at;
    if (legacyCursor ? at.legacy !== null : at === undefined && (await this.legacy.possible())) {
      const page = await this.legacy.membersPage(
        segmentId,
        limit,
        legacyCursor ? (at.legacy as Record<string, unknown>) : undefined,
      );
      members.push(...page.items.map(toMember));
      if (page.next) return { members, cursor: encodeCursor({ legacy: page.next }) };
      if (members.length >= limit) return { members, cursor: encodeCursor({ legacy: null }) };
    }
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.profilesTable,
        IndexName: 'byProfile',
        KeyConditionExpression: 'gsi1pk = :s AND begins_with(gsi1sk, :m)',
        FilterExpression: '#s = :member',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': `SEG#${segmentId}`, ':m': 'M#', ':member': 'member' },
        Limit: limit - members.length,
        ExclusiveStartKey: legacyCursor ? undefined : at,
      }),
    );
    members.push(...(res.Items ?? []).map(toMember));
    return { members, ...(res.LastEvaluatedKey ? { cursor: encodeCursor(res.LastEvaluatedKey) } : {}) };
  }

  /** The segments a profile is a member of: one consistent Query of its partition. */
  async segmentsOfProfile(profileId: string) {
    const bySegment = new Map<string, StoredMembership>();
    const legacy = (await this.legacy.possible()) ? await this.legacy.ofProfiles([profileId]) : [];
    for (const m of [...legacy, ...(await queryMembershipsOf(this.ddb, this.profilesTable, profileId, true))])
      bySegment.set(m.segmentId, m);
    return [...bySegment.values()]
      .filter((m) => m.state.status === 'member')
      .map((m) => ({ segmentId: m.segmentId, enteredAt: m.state.enteredAt as string }));
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

function strip(item: Record<string, unknown>): Segment {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...segment } = item as Item;
  return segment as unknown as Segment;
}
