import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { DeliveryError, SENDERS, sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient, s3Client } from '../../adapters/aws/clients.js';
import { cachedByCounter } from '../../adapters/dynamodb/change-counter.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import type { Destination } from '../../core/activate/destinations.js';
import { planDelivery } from '../../core/activate/plan.js';
import { type MembershipDelta, MembershipDeltaSchema } from '../../core/segments/delta.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';

const config = loadConfig(
  z.object({ [ENV.controlTable]: requiredString(), [ENV.activationDlqUrl]: z.string().optional() }),
);
const logger = createLogger('activation');
const destinations = new DestinationStore(dynamoDbDocumentClient(), config[ENV.controlTable]);
const senders = sendersFromEnv(process.env, s3Client());
const sqs = new SQSClient({});

/** Deliveries that can never succeed, kept with the reason: an SQS DLQ on AWS, a file locally. */
async function deadLetter(
  destination: Destination,
  deltas: readonly MembershipDelta[],
  reason: string,
): Promise<void> {
  const body = {
    destinationId: destination.destinationId,
    type: destination.type,
    reason,
    deltaIds: deltas.map((d) => d.deltaId),
    deltas,
  };
  const url = config[ENV.activationDlqUrl];
  if (url) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(body) }));
  else if (process.env.CDP_LOCAL_DATA_DIR) {
    const dir = join(process.env.CDP_LOCAL_DATA_DIR, 'dlq');
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, 'activation.jsonl'), `${JSON.stringify(body)}\n`);
  } else throw new Error(`${ENV.activationDlqUrl} is not set`);
}

const destinationsBySegment = cachedByCounter(destinations.changes, async () => {
  const bySegment = new Map<string, Destination[]>();
  for (const d of await destinations.all())
    bySegment.set(d.segmentId, [...(bySegment.get(d.segmentId) ?? []), d]);
  return bySegment;
});
async function destinationsFor(segmentId: string): Promise<Destination[]> {
  return (await destinationsBySegment()).get(segmentId) ?? [];
}

/**
 * Activation: membership deltas from the queue to every destination of their segment, batched to each
 * API's limits, each delta delivered once per destination, consent enforced, every outcome counted.
 */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const failures = new Set<string>();
  const bySegment = new Map<string, Array<{ messageId: string; delta: MembershipDelta }>>();
  for (const record of event.Records) {
    let parsed: ReturnType<typeof MembershipDeltaSchema.safeParse>;
    try {
      parsed = MembershipDeltaSchema.safeParse(JSON.parse(record.body));
    } catch {
      parsed = MembershipDeltaSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      // Redelivery cannot fix it: after the queue's max receives it lands in the queue's DLQ.
      logger.error('invalid delta message', { messageId: record.messageId });
      failures.add(record.messageId);
      continue;
    }
    const list = bySegment.get(parsed.data.segmentId) ?? [];
    list.push({ messageId: record.messageId, delta: parsed.data });
    bySegment.set(parsed.data.segmentId, list);
  }

  for (const [segmentId, items] of bySegment) {
    const deltas = items.map((i) => i.delta);
    for (const destination of await destinationsFor(segmentId)) {
      const delivered = await destinations.delivered(
        destination.destinationId,
        deltas.map((d) => d.deltaId),
      );
      const plan = planDelivery(destination, deltas, delivered);
      const source = deltas[0]!.source;
      try {
        if (plan.send.length) await SENDERS[destination.type](destination, plan.send, senders);
        await destinations.markDelivered(
          destination.destinationId,
          [...plan.send, ...plan.skipped].map((d) => d.deltaId),
        );
        await destinations.recordSync(destination.destinationId, source, {
          sent: plan.send.length,
          failed: 0,
          skipped: plan.skipped.length,
        });
      } catch (err) {
        const retryable = !(err instanceof DeliveryError) || err.retryable;
        await destinations.recordSync(
          destination.destinationId,
          source,
          { sent: 0, failed: plan.send.length, skipped: 0 },
          (err as Error).message,
        );
        logger.warn('delivery failed', {
          destinationId: destination.destinationId,
          type: destination.type,
          retryable,
          deltas: plan.send.length,
          errorName: (err as Error).name,
        });
        if (retryable) for (const i of items) failures.add(i.messageId);
        else {
          await deadLetter(destination, plan.send, (err as Error).message);
          await destinations.markDelivered(
            destination.destinationId,
            plan.send.map((d) => d.deltaId),
          );
        }
      }
    }
  }
  return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
}
