import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { SENDERS, sendersFromEnv } from '../../adapters/activate/senders.js';
import { recordAwsCall } from '../../adapters/aws/call-recorder.js';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { sqsClient } from '../../adapters/aws/sqs-client.js';
import { cachedByCounter } from '../../adapters/dynamodb/change-counter.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { erasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import type { Destination } from '../../core/activate/destinations.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { anyString, ENV, loadConfig, nonEmptyString, optional } from '../../resources/env.js';
import { ACTIVATION_FUNCTION } from '../../resources/functions/activate.js';
import { CLAIM_LEASE_MS, createActivationWorker } from './worker.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.activationDlqUrl]: optional(anyString),
});
const logger = createLogger('activation');
const destinations = new DestinationStore(dynamoDbDocumentClient(), config[ENV.controlTable]);
const senders = sendersFromEnv(process.env, s3Client());
const sqs = sqsClient();

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
    recordAwsCall('SQS', 'SendMessage', { QueueUrl: `env:${ENV.activationDlqUrl}` });
  } else throw new Error(`${ENV.activationDlqUrl} is not set`);
}

const destinationsBySegment = cachedByCounter(destinations.changes, async () => {
  const bySegment = new Map<string, Destination[]>();
  for (const d of await destinations.all())
    bySegment.set(d.segmentId, [...(bySegment.get(d.segmentId) ?? []), d]);
  return bySegment;
});

/** Activation: one invocation per batch of a destination type's deltas queue (see `worker.ts`). */
export const handler: (event: SQSEvent) => Promise<SQSBatchResponse> = createActivationWorker({
  destinationsFor: async (segmentId) => (await destinationsBySegment()).get(segmentId) ?? [],
  store: destinations,
  send: async (destination, queued) => {
    // Checked just before each send: a delta queued before a deletion never reaches the destination after it.
    const deltas = await erasureGate(ACTIVATION_FUNCTION.id).keepPeople(queued, 'deltas');
    if (deltas.length) await SENDERS[destination.type](destination, deltas, senders);
  },
  deadLetter,
  logger,
  metrics: createMetrics('activation'),
  claimLeaseMs: CLAIM_LEASE_MS,
});
