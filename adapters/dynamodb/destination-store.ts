import { randomBytes, randomUUID } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DeliveredState } from '../../core/activate/delivery-order.js';
import type { Destination, DestinationInput } from '../../core/activate/destinations.js';
import { inParallel } from '../../core/shared/concurrency.js';
import { allOfKind, batchWrite } from './batch.js';
import { ChangeCounter } from './change-counter.js';

const positionKey = (destinationId: string, profileId: string) => `POS#${destinationId}#${profileId}`;
/**
 * A position marker outlives any delta still on its way when it was last written (SQS keeps deltas 4
 * days): a change that arrives after it expired was decided after the last one delivered. Each write
 * renews it, so only people nothing happened to for a week go.
 */
const markerExpiry = (now: Date) => Math.floor(now.getTime() / 1000) + 7 * 86_400;

/** One person a worker wants to send changes of, up to `position`. */
export interface PersonClaim {
  readonly profileId: string;
  /** The highest position among this worker's changes of the person. */
  readonly position: string;
  /** `<messageId>#<receiveCount>` of the message carrying that change. */
  readonly receipt: string;
  /** Earlier receives of this worker's messages of the person (see `staleReceipts`). */
  readonly staleReceipts: readonly string[];
}
export interface ClaimOutcome {
  readonly held: boolean;
  readonly delivered: DeliveredState;
  /** Not held because another live worker holds the person: retry later. */
  readonly busy?: true;
}
/** A claim to end, with what the destination has of the person now (no position: nothing yet). */
export interface PersonSettle {
  readonly profileId: string;
  readonly position?: string;
  readonly recent: readonly string[];
  /** The ids this claim delivered (for logs and tests; `recent` already holds them). */
  readonly sent: readonly string[];
}

function deliveredOf(item: Record<string, unknown> | undefined): DeliveredState {
  return {
    ...(typeof item?.position === 'string' ? { position: item.position } : {}),
    recent: Array.isArray(item?.recent) ? (item.recent as string[]) : [],
  };
}

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
 *   POS#<destinationId>#<profileId> / P         what the destination has of a person, and the claim of
 *                                               the worker sending to it (TTL 7 days, renewed)
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
   * Claims people for one destination before their changes are sent: one conditional update of each
   * person's position marker that only one worker can win, and only while the destination has nothing
   * of that person at or above `position` (the highest change this worker would send). It succeeds on a
   * marker with no claim, on a claim whose lease ran out (its worker died) and on a claim recorded under
   * an earlier receive of one of this worker's messages (the queue redelivers a message only once the
   * receive before it is over). A person this owner holds is sent by nobody else until `settle`, so a
   * person's changes reach the destination one request after another, in position order.
   * Returns, per person, whether it is held and what the destination has.
   */
  async claim(
    destinationId: string,
    claims: readonly PersonClaim[],
    owner: string,
    leaseMs: number,
    now = new Date(),
  ): Promise<Map<string, ClaimOutcome>> {
    const out = new Map<string, ClaimOutcome>();
    await inParallel(
      claims,
      async ({ profileId, position, receipt, staleReceipts }) => {
        const key = { pk: positionKey(destinationId, profileId), sk: 'P' };
        // DynamoDB allows 100 operands in an IN list; a person's messages in one batch are far fewer.
        const stale = staleReceipts.slice(0, 99);
        try {
          const res = await this.ddb.send(
            new UpdateCommand({
              TableName: this.table,
              Key: key,
              UpdateExpression:
                'SET #owner = :o, claimPosition = :p, leaseUntil = :lease, receipt = :r, expiresAt = :exp',
              ConditionExpression: `(attribute_not_exists(#pos) OR #pos < :p) AND (attribute_not_exists(#owner) OR leaseUntil < :now${
                stale.length ? ` OR receipt IN (${stale.map((_, i) => `:s${i}`).join(', ')})` : ''
              })`,
              ExpressionAttributeNames: { '#owner': 'owner', '#pos': 'position' },
              ExpressionAttributeValues: {
                ':o': owner,
                ':p': position,
                ':lease': now.getTime() + leaseMs,
                ':r': receipt,
                ':exp': markerExpiry(now),
                ':now': now.getTime(),
                ...Object.fromEntries(stale.map((r, i) => [`:s${i}`, r])),
              },
              ReturnValues: 'ALL_OLD',
            }),
          );
          out.set(profileId, { held: true, delivered: deliveredOf(res.Attributes) });
        } catch (err) {
          if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
          const { Item } = await this.ddb.send(
            new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
          );
          const delivered = deliveredOf(Item);
          // Either the destination already has this position (nothing to send), or another worker holds
          // the person right now (the caller retries).
          const inFlight = delivered.position === undefined || delivered.position < position;
          out.set(profileId, { held: false, delivered, ...(inFlight ? { busy: true } : {}) });
        }
      },
      32,
    );
    return out;
  }

  /**
   * Ends this owner's claims: each marker holds what the destination has now (the highest position
   * delivered and the delivered ids) and no claim, so the person's next changes can go. Plain batched
   * puts (4 requests per 100 people instead of 100 conditional updates): nobody else writes a marker
   * this owner holds, since its lease outlasts the invocation.
   */
  async settle(
    destinationId: string,
    settles: readonly PersonSettle[],
    _owner: string,
    now = new Date(),
  ): Promise<void> {
    await batchWrite(
      this.ddb,
      this.table,
      settles.map(({ profileId, position, recent }) => {
        const key = { pk: positionKey(destinationId, profileId), sk: 'P' };
        return position === undefined
          ? { delete: key }
          : {
              put: {
                ...key,
                position,
                recent: [...recent],
                settledAt: now.toISOString(),
                expiresAt: markerExpiry(now),
              },
            };
      }),
    );
  }

  /** Erasure: what this destination had of these people (the position markers name their profile ids). */
  async forget(destinationId: string, profileIds: readonly string[]): Promise<void> {
    await batchWrite(
      this.ddb,
      this.table,
      profileIds.map((profileId) => ({ delete: { pk: positionKey(destinationId, profileId), sk: 'P' } })),
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
