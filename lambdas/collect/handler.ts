import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import { dynamoDbDocumentClient, kinesisClient } from '../../adapters/aws/clients.js';
import { CachedAuthenticator, SourceStore } from '../../adapters/dynamodb/source-store.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { EventStreamWriter, StreamWriteError } from '../../adapters/kinesis/event-stream.js';
import { createLogger } from '../../adapters/observability/logger.js';
import {
  type IngestPath,
  type MessageFilter,
  partitionKeyOf,
  validateIngestBody,
  withServerFields,
} from '../../core/collect/ingest.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { INGEST_PATHS } from '../../resources/functions/collect.js';
import { error, type HttpResponse, json } from '../shared/http.js';
import { decodeBody, writeKeyOf } from './request.js';
import { suppressionFilter } from './suppression-filter.js';

const config = loadConfig(
  z.object({ [ENV.controlTable]: requiredString(), [ENV.eventsStream]: requiredString() }),
);
const logger = createLogger('collector');
const auth = new CachedAuthenticator(new SourceStore(dynamoDbDocumentClient(), config[ENV.controlTable]));
const stream = new EventStreamWriter(kinesisClient(), config[ENV.eventsStream]);
const filters: MessageFilter[] = [
  suppressionFilter(new SuppressionStore(dynamoDbDocumentClient(), config[ENV.controlTable])),
];

/** Adds a filter (e.g. suppression) that runs after validation and before anything is written. */
export function addMessageFilter(filter: MessageFilter): void {
  filters.push(filter);
}

const isIngestPath = (p: string): p is IngestPath => (INGEST_PATHS as readonly string[]).includes(p);

export async function handler(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const path = event.rawPath.split('/').pop() ?? '';
  if (!isIngestPath(path))
    return error(404, { code: 'not_found', message: `No ingest route ${event.rawPath}` });

  const body = decodeBody(event);
  if (!body.ok) return error(body.status, { code: body.code, message: body.message });

  const writeKey = writeKeyOf(event, body.json);
  if (!writeKey)
    return error(401, {
      code: 'unauthorized',
      message: 'A write key is required (HTTP Basic username or "writeKey")',
    });
  const sourceId = await auth.authenticate(writeKey);
  if (!sourceId) return error(401, { code: 'unauthorized', message: 'The write key is unknown or revoked' });

  const result = validateIngestBody(path, body.json, body.bytes);
  if (!result.ok) {
    logger.info('rejected', { sourceId, path, code: result.code, issues: result.issues?.length ?? 0 });
    return error(result.status, { code: result.code, message: result.message, issues: result.issues });
  }

  let messages = [...result.messages];
  let dropped = 0;
  for (const filter of filters) {
    const outcome = await filter(messages);
    messages = outcome.keep;
    dropped += outcome.dropped;
  }

  const receivedAt = new Date();
  const records = messages.map((message) => ({
    partitionKey: partitionKeyOf(message),
    data: Buffer.from(JSON.stringify(withServerFields(message, sourceId, receivedAt))),
  }));
  try {
    await stream.put(records);
  } catch (err) {
    logger.error('stream write failed', {
      sourceId,
      records: records.length,
      failed: err instanceof StreamWriteError ? err.failedCount : records.length,
      reason: err instanceof StreamWriteError ? err.lastErrorCode : (err as Error).name,
    });
    // SDKs retry on 5xx/429; messageIds make the retry harmless downstream (dedupe).
    return error(
      503,
      {
        code: 'unavailable',
        message: 'The events could not be stored; nothing from this request is confirmed, retry later',
      },
      { 'retry-after': '2' },
    );
  }
  if (dropped) logger.info('suppressed messages dropped', { sourceId, dropped });
  logger.debug('accepted', { sourceId, path, accepted: records.length, dropped });
  return json(200, { success: true });
}
