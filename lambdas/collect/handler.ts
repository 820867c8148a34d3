import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import { dynamoDbDocumentClient, kinesisClient } from '../../adapters/aws/clients.js';
import { SourceStore } from '../../adapters/dynamodb/source-store.js';
import { EventStreamWriter, StreamWriteError } from '../../adapters/kinesis/event-stream.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { MessageSchema } from '../../core/events/schema.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { error, type HttpResponse, json } from '../shared/http.js';

const config = loadConfig(
  z.object({ [ENV.controlTable]: requiredString(), [ENV.eventsStream]: requiredString() }),
);
const logger = createLogger('collector');
const sources = new SourceStore(dynamoDbDocumentClient(), config[ENV.controlTable]);
const stream = new EventStreamWriter(kinesisClient(), config[ENV.eventsStream]);

function basicAuthUser(header: string | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user || undefined;
}

export async function handler(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const type = event.rawPath.split('/').pop() ?? '';
  const raw = event.body
    ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8')
    : '';
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return error(400, { code: 'invalid_json', message: 'Request body must be valid JSON' });
  }
  const writeKey = basicAuthUser(event.headers.authorization) ?? (body.writeKey as string | undefined);
  const sourceId = writeKey ? await sources.authenticate(writeKey) : undefined;
  if (!sourceId) return error(401, { code: 'unauthorized', message: 'A valid write key is required' });

  const parsed = MessageSchema.safeParse({ ...body, type: body.type ?? type });
  if (!parsed.success) {
    return error(400, {
      code: 'validation_failed',
      message: 'The message is invalid',
      issues: parsed.error.issues.map((i) => ({ field: i.path.join('.'), rule: i.message })),
    });
  }
  const receivedAt = new Date().toISOString();
  const message = parsed.data;
  const record = {
    ...message,
    messageId: message.messageId ?? randomUUID(),
    sourceId,
    receivedAt,
    timestamp: message.timestamp ?? receivedAt,
  };
  try {
    await stream.put([
      {
        partitionKey: String(message.userId ?? message.anonymousId),
        data: Buffer.from(JSON.stringify(record)),
      },
    ]);
  } catch (err) {
    if (!(err instanceof StreamWriteError)) logger.error('stream write failed', { error: err as Error });
    return error(
      503,
      { code: 'unavailable', message: 'Events could not be stored, retry later' },
      { 'retry-after': '1' },
    );
  }
  return json(200, { success: true });
}
