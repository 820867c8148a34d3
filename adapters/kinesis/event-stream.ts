import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';

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
  ) {
    super(message);
  }
}

/** Writes records to the events stream in PutRecords calls. */
export class EventStreamWriter {
  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
  ) {}

  async put(records: readonly StreamRecord[]): Promise<void> {
    if (records.length === 0) return;
    const result = await this.kinesis.send(
      new PutRecordsCommand({
        StreamName: this.streamName,
        Records: records.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
      }),
    );
    if (result.FailedRecordCount) {
      throw new StreamWriteError(
        `${result.FailedRecordCount} records were not accepted by the stream`,
        result.FailedRecordCount,
      );
    }
  }
}
