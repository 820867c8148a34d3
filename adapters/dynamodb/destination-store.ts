import { randomBytes, randomUUID } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Marker, MarkerState } from '../../core/activate/delivery-order.js';
import type { Destination, DestinationInput } from '../../core/activate/destinations.js';
import { inParallel } from '../../core/shared/concurrency.js';
import { allOfKind, batchGet, batchWrite } from './batch.js';
import { ChangeCounter } from './change-counter.js';

const markerKey = (destinationId: string, deltaId: string) => `DELIVERED#${destinationId}#${deltaId}`;
/** Markers outlive any redelivery (SQS keeps deltas 4 days) and any catch-up of the same change. */
const markerExpiry = (now: Date) => Math.floor(now.getTime() / 1000) + 7 * 86_400;

export interface SyncRecord {
  readonly source: string;
  readonly sent: number;
  readonly failed: number;
  readonly skipped: number;
  readonly lastError?: string;
  readonly updatedAt: string;
}

/**
 * Destinations, delivery markers and sync records in the control table:
 *   SEG#<segmentId> / DEST#<destinationId>      destination config
 *   DEST#<destinationId> / SYNC#<source>        counts per run (or `realtime`) and the last error
 *   DELIVERED#<destinationId>#<deltaId> / D     delivery claim, then marker (TTL 7 days)
 */
export class DestinationStore {
  readonly changes: ChangeCounter;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.changes = new ChangeCounter(ddb, table, 'DESTINATIONS');
  }

  async create(segmentId: string, input: DestinationInput, now = new Date()): Promise<Destination> {
    const settings = { ...input.settings };
    if (input.type === 'webhook' && !settings.secret)
      settings.secret = `whsec_${randomBytes(24).toString('base64url')}`;
    const destination: Destination = {
      ...input,
      settings,
      destinationId: `dst_${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      segmentId,
      createdAt: now.toISOString(),
    };
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: `SEG#${segmentId}`,
          sk: `DEST#${destination.destinationId}`,
          gsi1pk: 'DESTINATIONS',
          gsi1sk: destination.destinationId,
          ...destination,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    await this.changes.bump();
    return destination;
  }

  async get(segmentId: string, destinationId: string): Promise<Destination | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: `SEG#${segmentId}`, sk: `DEST#${destinationId}` } }),
    );
    if (!Item) return undefined;
    const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...d } = Item;
    return d as Destination;
  }

  /**
   * New settings, name or consent for an existing destination of the same type. A webhook keeps its
   * signing secret unless a new one is given, so receivers need not change when settings do.
   */
  async update(
    current: Destination,
    input: DestinationInput,
    now = new Date(),
  ): Promise<Destination | undefined> {
    const settings = { ...input.settings };
    if (current.type === 'webhook' && !settings.secret) settings.secret = current.settings.secret;
    const destination: Destination = {
      ...input,
      settings,
      destinationId: current.destinationId,
      segmentId: current.segmentId,
      createdAt: current.createdAt,
      updatedAt: now.toISOString(),
    };
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `SEG#${current.segmentId}`,
            sk: `DEST#${current.destinationId}`,
            gsi1pk: 'DESTINATIONS',
            gsi1sk: current.destinationId,
            ...destination,
          },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
    await this.changes.bump();
    return destination;
  }

  /** Stops deliveries; its delivery markers expire by themselves, its sync records go with it. */
  async delete(segmentId: string, destinationId: string): Promise<boolean> {
    const res = await this.ddb.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: `SEG#${segmentId}`, sk: `DEST#${destinationId}` },
        ReturnValues: 'ALL_OLD',
      }),
    );
    if (!res.Attributes) return false;
    await this.changes.bump();
    const syncs = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `DEST#${destinationId}` },
      }),
    );
    await batchWrite(
      this.ddb,
      this.table,
      (syncs.Items ?? []).map((i) => ({ delete: { pk: i.pk as string, sk: i.sk as string } })),
    );
    return true;
  }

  async forSegment(segmentId: string): Promise<Destination[]> {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :d)',
        ExpressionAttributeValues: { ':pk': `SEG#${segmentId}`, ':d': 'DEST#' },
      }),
    );
    return (res.Items ?? []).map(({ pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...d }) => d as Destination);
  }

  /** Every page: the delta sink routes by this list, so a destination past the first page would get nothing. */
  async all(): Promise<Destination[]> {
    return (await allOfKind(this.ddb, this.table, 'DESTINATIONS')).map(
      ({ pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _k, ...d }) => d as unknown as Destination,
    );
  }

  /**
   * Claims each delta for one destination before it is sent: a conditional put that only one worker can
   * win. It succeeds on a delta nobody marked, on a claim whose lease ran out (its worker died), and on
   * an earlier receive of the same queue message (the queue redelivers a message only once the receive
   * that claimed it is over). Returns the ids this owner now holds; the others are delivered, skipped
   * or being sent by another worker, and must not be sent again.
   */
  async claim(
    destinationId: string,
    claims: ReadonlyArray<{ deltaId: string; messageId: string; receiveCount: number }>,
    owner: string,
    leaseMs: number,
    now = new Date(),
  ): Promise<Set<string>> {
    const held = new Set<string>();
    await inParallel(claims, async ({ deltaId, messageId, receiveCount }) => {
      try {
        await this.ddb.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              pk: markerKey(destinationId, deltaId),
              sk: 'D',
              state: 'claimed',
              owner,
              messageId,
              receiveCount,
              leaseUntil: now.getTime() + leaseMs,
              expiresAt: markerExpiry(now),
            },
            ConditionExpression:
              'attribute_not_exists(pk) OR (#state = :claimed AND (leaseUntil < :now OR (messageId = :m AND receiveCount < :rc)))',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':claimed': 'claimed',
              ':now': now.getTime(),
              ':m': messageId,
              ':rc': receiveCount,
            },
          }),
        );
        held.add(deltaId);
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      }
    });
    return held;
  }

  /**
   * Final state of deltas this owner claimed, as one batched write: what happened is a fact whoever holds
   * the claim, and plain puts cost 4 requests per 100 deltas instead of 100 conditional updates.
   */
  async settle(
    destinationId: string,
    deltaIds: readonly string[],
    owner: string,
    state: Exclude<MarkerState, 'claimed'>,
    now = new Date(),
  ): Promise<void> {
    await batchWrite(
      this.ddb,
      this.table,
      deltaIds.map((deltaId) => ({
        put: {
          pk: markerKey(destinationId, deltaId),
          sk: 'D',
          state,
          owner,
          settledAt: now.toISOString(),
          expiresAt: markerExpiry(now),
        },
      })),
    );
  }

  /**
   * Marks deltas nobody has claimed yet as superseded, so they are never sent (an update about to go
   * out ends its own entry that has not been picked up: arriving later, the entry would come after it).
   * Returns the ids that could not be marked because a marker exists (claimed, delivered, ...).
   */
  async preempt(destinationId: string, deltaIds: readonly string[], owner: string, now = new Date()) {
    const taken = new Set<string>();
    await inParallel(deltaIds, async (deltaId) => {
      try {
        await this.ddb.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              pk: markerKey(destinationId, deltaId),
              sk: 'D',
              state: 'superseded',
              owner,
              settledAt: now.toISOString(),
              expiresAt: markerExpiry(now),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
        taken.add(deltaId);
      }
    });
    return taken;
  }

  /** Gives claims back (the send failed or must wait): the message's retry claims them again. */
  async release(destinationId: string, deltaIds: readonly string[], owner: string): Promise<void> {
    await inParallel(deltaIds, async (deltaId) => {
      try {
        await this.ddb.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk: markerKey(destinationId, deltaId), sk: 'D' },
            ConditionExpression: '#owner = :o AND #state = :claimed',
            ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
            ExpressionAttributeValues: { ':o': owner, ':claimed': 'claimed' },
          }),
        );
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      }
    });
  }

  /** Markers of these deltas (strongly consistent), for delivery order; markers without a state are delivered. */
  async markers(destinationId: string, deltaIds: readonly string[]): Promise<Map<string, Marker>> {
    const items = await batchGet(
      this.ddb,
      this.table,
      deltaIds.map((id) => ({ pk: markerKey(destinationId, id), sk: 'D' })),
    );
    return new Map(
      items.map((i) => [
        (i.pk as string).split('#')[2]!,
        {
          state: (i.state as MarkerState | undefined) ?? 'delivered',
          owner: i.owner as string | undefined,
          leaseUntil: i.leaseUntil as number | undefined,
        },
      ]),
    );
  }

  async recordSync(
    destinationId: string,
    source: string,
    counts: { sent: number; failed: number; skipped: number },
    lastError?: string,
    now = new Date(),
  ) {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `DEST#${destinationId}`, sk: `SYNC#${source}` },
        UpdateExpression: `ADD sent :s, failed :f, skipped :k SET #src = :src, updatedAt = :t${lastError ? ', lastError = :e' : ''}`,
        ExpressionAttributeNames: { '#src': 'source' },
        ExpressionAttributeValues: {
          ':s': counts.sent,
          ':f': counts.failed,
          ':k': counts.skipped,
          ':src': source,
          ':t': now.toISOString(),
          ...(lastError ? { ':e': lastError.slice(0, 500) } : {}),
        },
      }),
    );
  }

  async syncs(destinationId: string): Promise<SyncRecord[]> {
    const res = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :s)',
        ExpressionAttributeValues: { ':pk': `DEST#${destinationId}`, ':s': 'SYNC#' },
      }),
    );
    return (res.Items ?? []).map(({ pk: _p, sk: _s, ...r }) => r as unknown as SyncRecord);
  }
}
