import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createLogger } from '../../adapters/observability/logger.js';
import { CollectedEventParser } from '../../core/events/schema.js';

const logger = createLogger('profile-processor');

/** Stream consumer: reads collected events from Kinesis. */
export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  let valid = 0;
  for (const record of event.Records) {
    const parsed = CollectedEventParser.safeParse(
      JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8')),
    );
    if (parsed.success) valid += 1;
  }
  logger.info('batch processed', { records: event.Records.length, valid });
  return { batchItemFailures: [] };
}
