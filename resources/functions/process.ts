import type { FunctionDefinition, StreamConsumerDefinition } from './types.js';

export const PROFILE_PROCESSOR_FUNCTION: FunctionDefinition = {
  id: 'ProfileProcessor',
  entry: 'lambdas/process/handler.ts',
  memoryMb: 1024,
  timeoutSeconds: 60,
  perEvent: true,
};

export const PROCESS_STREAM_CONSUMERS: readonly StreamConsumerDefinition[] = [
  {
    functionId: PROFILE_PROCESSOR_FUNCTION.id,
    streamId: 'EventsStream',
    batchSize: 500,
    maxBatchingWindowSeconds: 1,
    retryAttempts: 10,
    // Must stay 1: a profile remembers only the batch in flight per shard (see core/profiles/state.ts).
    parallelizationFactor: 1,
    bisectBatchOnError: false,
  },
];
