import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { dynamoDbDocumentClient, kinesisClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { CachedAuthenticator, SourceStore } from '../../adapters/dynamodb/source-store.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { EventStreamWriter, StreamWriteError } from '../../adapters/kinesis/event-stream.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { QuarantineWriter } from '../../adapters/s3/quarantine-writer.js';
import {
  type IngestIssue,
  type IngestPath,
  type MessageFilter,
  partitionKeyOf,
  validateIngestBody,
  withServerFields,
} from '../../core/collect/ingest.js';
import { quarantineRejection } from '../../core/collect/rejections.js';
import type { Message } from '../../core/events/schema.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { INGEST_PATH_ALIASES, INGEST_PATHS } from '../../resources/functions/collect.js';
import { METRIC } from '../../resources/metrics.js';
import { error, type HttpResponse, json } from '../shared/http.js';
import { decodeBody, writeKeyOf } from './request.js';
import { suppressionFilter } from './suppression-filter.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.eventsStream]: nonEmptyString,
  [ENV.lakeBucket]: nonEmptyString,
});
const logger = createLogger('collector');
const metrics = createMetrics('collector');
const quarantine = new QuarantineWriter(s3Client(), config[ENV.lakeBucket]);
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

/**
 * The tracking API path a request is for: `/v1/track`, or analytics.js' `/v1/t`, both mean `track`.
 * Only `/v1/<name>`: the HTTP API routes nothing else here, but a function URL passes every path on.
 */
function ingestPathOf(rawPath: string): IngestPath | undefined {
  const match = /^\/v1\/([a-z]+)\/?$/.exec(rawPath);
  const last = match?.[1] ?? '';
  const path: string = Object.hasOwn(INGEST_PATH_ALIASES, last)
    ? INGEST_PATH_ALIASES[last as keyof typeof INGEST_PATH_ALIASES]
    : last;
  return isIngestPath(path) ? path : undefined;
}

/**
 * A function URL (`cdp:ingestEndpoint=function-url`) invokes the collector for any method, where the
 * HTTP API routes only POST. Lambda answers CORS preflights itself, so an OPTIONS that still arrives
 * gets an empty 204 (Lambda adds the configured CORS headers); anything else but POST is refused.
 */
function refusedMethod(event: APIGatewayProxyEventV2): HttpResponse | undefined {
  const method = event.requestContext?.http?.method?.toUpperCase();
  if (method === undefined || method === 'POST') return undefined;
  if (method === 'OPTIONS') return { statusCode: 204, body: '' };
  return error(405, { code: 'method_not_allowed', message: 'Send events with POST' }, { allow: 'POST' });
}

export async function handler(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  try {
    return await collect(event);
  } finally {
    metrics.flush();
  }
}

interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly IngestIssue[];
}

/**
 * Answers a refused request, and keeps what an authenticated source sent in quarantine with the
 * reason, so its owners can see what their SDK gets wrong. A person who is suppressed leaves nothing,
 * not even there. Quarantine is best effort: the client has its 4xx either way.
 */
async function refuse(
  event: APIGatewayProxyEventV2,
  path: IngestPath,
  sourceId: string | undefined,
  refusal: Refusal,
  json: unknown,
  writeKey: string | undefined,
): Promise<HttpResponse> {
  const batch = (json as { batch?: unknown } | undefined)?.batch;
  metrics.count(METRIC.eventsRejected, Array.isArray(batch) ? batch.length : 1);
  logger.info('rejected', { sourceId, path, code: refusal.code, issues: refusal.issues?.length ?? 0 });
  if (sourceId) {
    try {
      const raw = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
      const records = quarantineRejection(
        {
          sourceId,
          path,
          code: refusal.code,
          message: refusal.message,
          issues: refusal.issues,
          json,
          raw,
          contentEncoding: event.headers['content-encoding'],
          writeKey,
        },
        new Date(),
      );
      const kept = [];
      for (const record of records) if (!(await isSuppressed(record.raw))) kept.push(record);
      await quarantine.write(kept);
    } catch (err) {
      logger.warn('a rejected request could not be quarantined', {
        sourceId,
        errorName: (err as Error).name,
      });
    }
  }
  return error(refusal.status, { code: refusal.code, message: refusal.message, issues: refusal.issues });
}

async function isSuppressed(raw: string): Promise<boolean> {
  let message: unknown;
  try {
    message = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    return false;
  }
  if (typeof message !== 'object' || message === null) return false;
  for (const filter of filters) if ((await filter([message as Message])).dropped) return true;
  return false;
}

/**
 * When the request arrived: API Gateway's `requestContext.timeEpoch` (the local adapter sets it on
 * arrival), so a slow write-key lookup on a cold start never shifts skew-corrected event times.
 */
function arrivalOf(event: APIGatewayProxyEventV2): Date {
  // A number from API Gateway and function URLs; read a numeric string too (Lambda's docs show one).
  const epoch = Number(event.requestContext?.timeEpoch);
  return Number.isFinite(epoch) && epoch > 0 ? new Date(epoch) : new Date();
}

async function collect(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const receivedAt = arrivalOf(event);
  const refused = refusedMethod(event);
  if (refused) return refused;
  const path = ingestPathOf(event.rawPath);
  if (!path) return error(404, { code: 'not_found', message: `No ingest route ${event.rawPath}` });

  const body = decodeBody(event);
  if (!body.ok) {
    // The body is unreadable, so only a header key can say whose it is.
    const headerKey = writeKeyOf(event, undefined);
    const sourceId = headerKey ? await auth.authenticate(headerKey) : undefined;
    return refuse(event, path, sourceId, body, undefined, headerKey);
  }

  const writeKey = writeKeyOf(event, body.json);
  if (!writeKey)
    return error(401, {
      code: 'unauthorized',
      message: 'A write key is required (HTTP Basic username or "writeKey")',
    });
  const sourceId = await auth.authenticate(writeKey);
  if (!sourceId) return error(401, { code: 'unauthorized', message: 'The write key is unknown or revoked' });

  const result = validateIngestBody(path, body.json, body.bytes, receivedAt);
  if (!result.ok) return refuse(event, path, sourceId, result, body.json, writeKey);

  let messages = [...result.messages];
  let dropped = 0;
  for (const filter of filters) {
    const outcome = await filter(messages);
    messages = outcome.keep;
    dropped += outcome.dropped;
  }

  const records = messages.map((message) => ({
    partitionKey: partitionKeyOf(message),
    data: Buffer.from(JSON.stringify(withServerFields(message, sourceId, receivedAt))),
  }));
  try {
    await stream.put(records);
  } catch (err) {
    metrics.count(METRIC.streamWriteFailures, 1);
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
  metrics.count(METRIC.eventsAccepted, records.length);
  metrics.count(METRIC.eventsSuppressed, dropped);
  if (dropped) logger.info('suppressed messages dropped', { sourceId, dropped });
  logger.debug('accepted', { sourceId, path, accepted: records.length, dropped });
  return json(200, { success: true });
}
