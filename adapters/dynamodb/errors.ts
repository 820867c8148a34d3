/** DynamoDB's answers that no retry can change: the request itself cannot be stored. */
const PERMANENT = new Set([
  'ValidationException',
  'ItemCollectionSizeLimitExceededException',
  'SerializationException',
]);

/** Failures of the way there, not of the request: worth another try. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_NAMES = new Set(['ConflictError', 'TimeoutError', 'AbortError']);

/**
 * Whether a failed write can never succeed for this data: DynamoDB refused the request as invalid (a
 * number out of its range, a key too long, an item too large), or the SDK could not even build it
 * (marshalling a number JavaScript cannot hold exactly, a value nested deeper than the stack allows).
 * Throttling, lost races, missing permissions or tables and network failures are not: those are
 * retried, never blamed on a record.
 */
export function isPermanentStoreError(err: Error): boolean {
  if (PERMANENT.has(err.name)) return true;
  if (TRANSIENT_NAMES.has(err.name)) return false;
  const e = err as Error & { $metadata?: unknown; $fault?: string; code?: string };
  if (e.$metadata !== undefined || e.$fault !== undefined) return false;
  if (e.code && NETWORK_CODES.has(e.code)) return false;
  return (
    err instanceof RangeError ||
    err instanceof TypeError ||
    /marshall|Number .* (greater|less) than|BigInt/i.test(err.message)
  );
}

/** A conditional write whose condition did not hold (someone else wrote first, or the item is gone). */
export const isConditionFailed = (err: unknown): boolean =>
  (err as Error | undefined)?.name === 'ConditionalCheckFailedException';
