import { setTimeout as sleep } from 'node:timers/promises';
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { encodeRecord } from '../../core/events/record-codec.js';

export interface StreamRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** Thrown when records could not be written durably; the caller must not report success. */
export class StreamWriteError extends Error {
  override readonly name = 'StreamWriteError';
  constructor(
    message: string,
    readonly failedCount: number,
    readonly lastErrorCode?: string,
  ) {
    super(message);
  }
}

/** Kinesis PutRecords limits (per call and per record, partition key bytes included). */
export const PUT_RECORDS_LIMITS = {
  maxRecords: 500,
  maxRequestBytes: 5 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024,
} as const;

export interface RetryPolicy {
  /** Attempts per chunk, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 50, maxDelayMs: 1_000 };

const recordBytes = (r: StreamRecord) => r.data.byteLength + Buffer.byteLength(r.partitionKey);

/** Splits records into PutRecords calls that respect the record-count and request-size limits. */
export function chunkRecords(records: readonly StreamRecord[]): StreamRecord[][] {
  const chunks: StreamRecord[][] = [];
  let current: StreamRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = recordBytes(record);
    if (size > PUT_RECORDS_LIMITS.maxRecordBytes)
      throw new RangeError(`A stream record must be at most ${PUT_RECORDS_LIMITS.maxRecordBytes} bytes`);
    if (
      current.length === PUT_RECORDS_LIMITS.maxRecords ||
      bytes + size > PUT_RECORDS_LIMITS.maxRequestBytes
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/**
 * Writes records to the events stream. PutRecords is not atomic: some entries can fail (throttled
 * shards) while others land. Only the failed entries are retried, with exponential backoff and full
 * jitter; whatever still fails is reported as a StreamWriteError so the API never claims it.
 */
export class EventStreamWriter {
  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  async put(records: readonly StreamRecord[]): Promise<void> {
    // Compressed on the way in where that saves a billed KB (see record-codec).
    const chunks = chunkRecords(
      records.map((r) => ({ ...r, data: encodeRecord(r.data, Buffer.byteLength(r.partitionKey)) })),
    );
    const results = await Promise.allSettled(chunks.map((chunk) => this.putChunk(chunk)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length === 0) return;
    const failedCount = failures.reduce(
      (n, f) => n + (f.reason instanceof StreamWriteError ? f.reason.failedCount : 0),
      0,
    );
    const first = failures[0]!.reason as Error;
    throw new StreamWriteError(
      `${failedCount || 'some'} of ${records.length} records were not accepted by the stream: ${first.message}`,
      failedCount || records.length,
      first instanceof StreamWriteError ? first.lastErrorCode : first.name,
    );
  }

  private async putChunk(chunk: readonly StreamRecord[]): Promise<void> {
    let pending: PutRecordsRequestEntry[] = chunk.map((r) => ({
      PartitionKey: r.partitionKey,
      Data: r.data,
    }));
    let lastErrorCode: string | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.kinesis.send(
          new PutRecordsCommand({ StreamName: this.streamName, Records: pending }),
        );
        if (!result.FailedRecordCount) return;
        const entries = result.Records ?? [];
        const failed = pending.filter(
          (_, i) => entries[i]?.ErrorCode !== undefined || entries[i] === undefined,
        );
        lastErrorCode = entries.find((e) => e.ErrorCode)?.ErrorCode;
        pending = failed;
        if (pending.length === 0) return;
      } catch (err) {
        // The SDK already retried the call itself; a throw here means the whole request failed.
        lastErrorCode = (err as Error).name;
      }
      if (attempt >= this.retry.attempts) {
        throw new StreamWriteError(
          `${pending.length} records failed after ${attempt} attempts (${lastErrorCode})`,
          pending.length,
          lastErrorCode,
        );
      }
      const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.random() * cap);
    }
  }
}
