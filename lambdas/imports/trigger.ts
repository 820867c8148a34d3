import { SFNClient } from '@aws-sdk/client-sfn';
import type { EventBridgeEvent, S3Event } from 'aws-lambda';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { ImportStore } from '../../adapters/dynamodb/import-store.js';
import { headObject, isErrorsFile } from '../../adapters/imports/s3-file.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { METRIC } from '../../resources/metrics.js';
import { sourceIdOfKey, startImport } from './start.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.importRunStateMachineArn]: nonEmptyString,
});
const logger = createLogger('import-trigger');
const metrics = createMetrics('import-trigger');
const store = new ImportStore(dynamoDbDocumentClient(), config[ENV.controlTable]);
const s3 = s3Client();
const sfn = new SFNClient({});

export type ObjectCreatedEvent = EventBridgeEvent<
  'Object Created',
  { bucket: { name: string }; object: { key: string } }
>;

/** The objects of an EventBridge "Object Created" event (AWS, local) or an S3 notification. */
function objectsOf(event: ObjectCreatedEvent | S3Event): Array<{ bucket: string; key: string }> {
  if ('Records' in event)
    return event.Records.map((r) => ({
      bucket: r.s3.bucket.name,
      key: decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')),
    }));
  return [{ bucket: event.detail.bucket.name, key: event.detail.object.key }];
}

/**
 * A file created under `imports/` starts its import (S3 events through EventBridge on AWS; locally the
 * runtime lists the imports bucket and hands new files to this same handler). Errors files written
 * beside the inputs are the imports' own output and are skipped.
 */
export async function handler(event: ObjectCreatedEvent | S3Event): Promise<void> {
  try {
    for (const { bucket, key } of objectsOf(event)) {
      if (isErrorsFile(key)) continue;
      const sourceId = sourceIdOfKey(key);
      if (!sourceId) {
        logger.warn('object outside imports/<sourceId>/ ignored', { key });
        continue;
      }
      const object = await headObject(s3, bucket, key);
      const outcome = await startImport(
        { store, sfn, stateMachineArn: config[ENV.importRunStateMachineArn] },
        object,
        sourceId,
      );
      if (outcome.status === 'failed') metrics.count(METRIC.importsFailed, 1);
      logger.info('import triggered', { sourceId, ...outcome });
    }
  } finally {
    metrics.flush();
  }
}
