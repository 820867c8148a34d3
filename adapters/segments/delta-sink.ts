import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DestinationType } from '../../core/activate/destinations.js';
import {
  type DeltaMessage,
  type DestinationTypesBySegment,
  routeDeltas,
} from '../../core/activate/routing.js';
import { membershipChangeRecords } from '../../core/lake/profile-changes.js';
import type { DeltaSink, MembershipDelta } from '../../core/segments/delta.js';
import { deltaQueueFor } from '../../resources/queues.js';
import { recordAwsCall } from '../aws/call-recorder.js';
import { dynamoDbDocumentClient } from '../aws/clients.js';
import { s3Client } from '../aws/s3-client.js';
import { sqsClient } from '../aws/sqs-client.js';
import { cachedByCounter } from '../dynamodb/change-counter.js';
import { DestinationStore } from '../dynamodb/destination-store.js';
import { erasureGate } from '../dynamodb/erasure-gate.js';
import { ChangeWriter } from '../s3/change-writer.js';
import { type DeltaSinkSettings, deltaSinkSettings } from './delta-sink-settings.js';

/** Destination types per segment, re-read only when a destination was added or changed. */
export function destinationTypesFrom(store: DestinationStore): () => Promise<DestinationTypesBySegment> {
  return cachedByCounter(store.changes, async () => {
    const bySegment = new Map<string, Set<DestinationType>>();
    for (const d of await store.all())
      bySegment.set(d.segmentId, (bySegment.get(d.segmentId) ?? new Set()).add(d.type));
    return bySegment;
  });
}

/** Puts each delta on the queue of every destination type its segment has. */
abstract class RoutingDeltaSink implements DeltaSink {
  constructor(private readonly destinationTypes: () => Promise<DestinationTypesBySegment>) {}

  async publish(deltas: readonly MembershipDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const routed = routeDeltas(deltas, await this.destinationTypes());
    // Settle every queue before failing, so the caller's retry never overlaps sends still in flight.
    const results = await Promise.allSettled(
      [...routed].map(([type, messages]) => this.enqueue(type, messages)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  protected abstract enqueue(type: DestinationType, messages: readonly DeltaMessage[]): Promise<void>;
}

/** To the SQS queue of each type, 10 per SendMessageBatch, failed entries retried, then an error. */
export class SqsDeltaSink extends RoutingDeltaSink {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrls: Readonly<Record<DestinationType, string>>,
    destinationTypes: () => Promise<DestinationTypesBySegment>,
  ) {
    super(destinationTypes);
  }

  protected async enqueue(type: DestinationType, messages: readonly DeltaMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      // Entry ids only need to be unique within one request.
      let pending = messages
        .slice(i, i + 10)
        .map((m, k) => ({ Id: String(k), MessageBody: JSON.stringify(m) }));
      for (let attempt = 1; pending.length; attempt++) {
        const res = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrls[type], Entries: pending }),
        );
        const failed = new Set((res.Failed ?? []).map((f) => f.Id));
        pending = pending.filter((e) => failed.has(e.Id));
        if (pending.length && attempt >= 5)
          throw new Error(`${pending.length} deltas could not be queued for ${type}`);
        if (pending.length) await sleep(Math.random() * 50 * 2 ** attempt);
      }
    }
  }
}

/**
 * The local stand-in for the queues (there is no SQS emulator here): messages are appended to
 * `<dataDir>/queues/deltas-<type>.jsonl`, where the local runtime's poller for that type reads them.
 */
export class FileDeltaSink extends RoutingDeltaSink {
  constructor(
    readonly dataDir: string,
    destinationTypes: () => Promise<DestinationTypesBySegment>,
  ) {
    super(destinationTypes);
  }

  protected async enqueue(type: DestinationType, messages: readonly DeltaMessage[]): Promise<void> {
    const file = join(this.dataDir, deltaQueueFor(type).localFile);
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, messages.map((m) => `${JSON.stringify(m)}\n`).join(''));
    // The file stands in for the type's SQS queue: record the SendMessageBatch AWS would receive.
    recordAwsCall('SQS', 'SendMessageBatch', { QueueUrl: `env:${deltaQueueFor(type).envVar}` });
  }
}

/**
 * Every membership change also goes to the lake's `membership_changes` table (one object per
 * published batch), after activation has it: the caller writes memberships only once `publish`
 * resolves, so a failed lake write replays the same deltas.
 */
export class LakeRecordingDeltaSink implements DeltaSink {
  constructor(
    private readonly inner: DeltaSink,
    private readonly lake: ChangeWriter,
  ) {}

  async publish(deltas: readonly MembershipDelta[]): Promise<void> {
    await this.inner.publish(deltas);
    const records = membershipChangeRecords(deltas);
    if (records.membership_changes?.length) await this.lake.write(records, new Date());
  }
}

/** Segmentation output: deltas of people whose deletion was accepted are neither queued nor recorded. */
export class ErasureScreeningDeltaSink implements DeltaSink {
  constructor(
    private readonly inner: DeltaSink,
    private readonly keep: (deltas: readonly MembershipDelta[]) => Promise<MembershipDelta[]>,
  ) {}

  async publish(deltas: readonly MembershipDelta[]): Promise<void> {
    await this.inner.publish(await this.keep(deltas));
  }
}

export function deltaSinkFromEnv(env: Record<string, string | undefined> = process.env): DeltaSink {
  return deltaSinkFrom(deltaSinkSettings(env));
}

/** The sink of settings already read (`deltaSinkSettings`), screened, routed and recorded in the lake. */
export function deltaSinkFrom(settings: DeltaSinkSettings): DeltaSink {
  return new ErasureScreeningDeltaSink(recordingDeltaSink(settings), (deltas) =>
    erasureGate('segment-output').keepPeople(deltas, 'deltas'),
  );
}

function recordingDeltaSink(settings: DeltaSinkSettings): DeltaSink {
  const sink = routingDeltaSink(settings);
  return settings.lakeBucket
    ? new LakeRecordingDeltaSink(sink, new ChangeWriter(s3Client(), settings.lakeBucket))
    : sink;
}

function routingDeltaSink(settings: DeltaSinkSettings): DeltaSink {
  const types = destinationTypesFrom(new DestinationStore(dynamoDbDocumentClient(), settings.controlTable));
  return settings.localDataDir !== undefined
    ? new FileDeltaSink(settings.localDataDir, types)
    : new SqsDeltaSink(sqsClient(), settings.queueUrls, types);
}
