import { DESTINATION_TYPES, type DestinationType } from '../core/activate/destinations.js';

/**
 * The SQS queues that carry membership deltas to activation, one per destination type, so an outage
 * of one API only holds back (and retries) the deltas of that API. The CDK stack builds a queue, its
 * redrive DLQ and an event source mapping from each; the local runtime polls `localFile` instead.
 */
export interface DeltaQueueDefinition {
  readonly destinationType: DestinationType;
  /** Logical id in the CDK stack. */
  readonly id: string;
  /** Holds the queue URL for the delta sink. */
  readonly envVar: string;
  /** JSON Lines file under the local data directory, standing in for the queue. */
  readonly localFile: string;
  readonly localArn: string;
  /** Messages per worker invocation. */
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Concurrent worker invocations this queue may drive (undefined: Lambda's default scaling). */
  readonly maxConcurrency?: number;
  /** Receives before a message moves to the queue's DLQ. */
  readonly maxReceiveCount: number;
  /** Also the back-off before a failed message is retried. */
  readonly visibilityTimeoutSeconds: number;
  readonly retentionDays: number;
}

/**
 * Batch sizes are multiples of what one API call takes, so a worker invocation fills whole calls.
 * Webhooks are rate-limited per worker instance, so capping concurrency caps the rate a receiver sees;
 * SES contacts and Customer Profiles take one item per call against low account quotas, so few pollers
 * keep throttling within the SDK's retries instead of failing whole batches.
 */
const CONSUMER: Record<
  DestinationType,
  Pick<DeltaQueueDefinition, 'batchSize' | 'maxBatchingWindowSeconds' | 'maxConcurrency'>
> = {
  webhook: { batchSize: 100, maxBatchingWindowSeconds: 1, maxConcurrency: 10 },
  eventbridge: { batchSize: 50, maxBatchingWindowSeconds: 1 },
  pinpoint: { batchSize: 100, maxBatchingWindowSeconds: 1 },
  personalize: { batchSize: 50, maxBatchingWindowSeconds: 1 },
  ses: { batchSize: 10, maxBatchingWindowSeconds: 1, maxConcurrency: 2 },
  'customer-profiles': { batchSize: 10, maxBatchingWindowSeconds: 1, maxConcurrency: 5 },
  // Each invocation writes one object set, so fewer, larger batches make fewer, larger files.
  's3-export': { batchSize: 1000, maxBatchingWindowSeconds: 5 },
};

const pascal = (type: string) =>
  type.replace(/(^|-)([a-z])/g, (_: string, _sep: string, c: string) => c.toUpperCase());

export const DELTA_QUEUES: readonly DeltaQueueDefinition[] = DESTINATION_TYPES.map((type) => ({
  destinationType: type,
  id: `Deltas${pascal(type)}`,
  envVar: `CDP_DELTAS_QUEUE_URL_${type.toUpperCase().replace(/-/g, '_')}`,
  localFile: `queues/deltas-${type}.jsonl`,
  localArn: `arn:aws:sqs:us-east-1:000000000000:cdp-deltas-${type}`,
  ...CONSUMER[type],
  maxReceiveCount: 5,
  visibilityTimeoutSeconds: 300,
  retentionDays: 4,
}));

export function deltaQueueFor(type: DestinationType): DeltaQueueDefinition {
  const queue = DELTA_QUEUES.find((q) => q.destinationType === type);
  if (!queue) throw new Error(`No deltas queue for destination type ${type}`);
  return queue;
}
