/**
 * Ingest limits, the same as Segment's HTTP Tracking API so existing SDKs (which batch to these sizes)
 * never hit a limit Segment would not. Sizes are of the decompressed JSON.
 */
export const INGEST_LIMITS = {
  maxMessageBytes: 32 * 1024,
  maxBatchBytes: 500 * 1024,
  maxBatchMessages: 2_500,
} as const;
