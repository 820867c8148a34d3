import type { FunctionDefinition, StreamConsumerDefinition } from './types.js';

export const LAKE_WRITER_FUNCTION: FunctionDefinition = {
  id: 'LakeWriter',
  entry: 'lambdas/lake/handler.ts',
  memoryMb: 1024,
  timeoutSeconds: 120,
  perEvent: true,
};

/**
 * Its own subscription, independent of profile processing. Lambda caps a Kinesis batch at 10,000
 * records and 6 MB, so objects hold up to one such batch per shard; the batching window (up to 300 s)
 * trades freshness for fewer, larger objects.
 */
export const LAKE_STREAM_CONSUMERS: readonly StreamConsumerDefinition[] = [
  {
    functionId: LAKE_WRITER_FUNCTION.id,
    streamId: 'EventsStream',
    batchSize: 10_000,
    maxBatchingWindowSeconds: 60,
    retryAttempts: 10,
    parallelizationFactor: 1,
    bisectBatchOnError: true,
  },
];

/**
 * Hourly: compacts closed hours of raw JSON into Parquet (`columnar/`) and moves the `events` view's
 * frontier. One hour of one source is held in memory while its file is written.
 */
export const LAKE_COMPACTOR_FUNCTION: FunctionDefinition = {
  id: 'LakeCompactor',
  entry: 'lambdas/lake/compact.ts',
  memoryMb: 3008,
  timeoutSeconds: 900,
};

/** How often the compactor runs (minutes); hours close 15 minutes after they end. */
export const LAKE_COMPACTION_SCHEDULE_MINUTES = 60;
