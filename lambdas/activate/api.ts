import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { z } from 'zod';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import { DestinationInputSchema } from '../../core/activate/destinations.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { error, type HttpResponse, json } from '../shared/http.js';

const config = loadConfig(
  z.object({ [ENV.controlTable]: requiredString(), [ENV.profilesTable]: requiredString() }),
);
const ddb = dynamoDbDocumentClient();
const destinations = new DestinationStore(ddb, config[ENV.controlTable]);
const segments = new SegmentStore(ddb, config[ENV.controlTable], config[ENV.profilesTable]);

const masked = (settings: Record<string, unknown>) =>
  settings.secret ? { ...settings, secret: '********' } : settings;

/** `POST/GET /v1/segments/{id}/destinations`: configure a destination; list them with their syncs. */
export async function handler(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const segmentId = event.pathParameters?.id ?? '';
  if (!(await segments.get(segmentId)))
    return error(404, { code: 'not_found', message: `No segment ${segmentId}` });
  if (event.requestContext.http.method === 'POST') {
    let body: unknown;
    try {
      body = JSON.parse(
        event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8') : '',
      );
    } catch {
      return error(400, { code: 'invalid_json', message: 'The body must be a JSON object' });
    }
    const parsed = DestinationInputSchema.safeParse(body);
    if (!parsed.success)
      return error(400, {
        code: 'invalid_destination',
        message: 'The destination is invalid',
        issues: parsed.error.issues.map((i) => ({ field: i.path.join('.'), rule: i.message })),
      });
    // The webhook secret is shown once, here; later reads mask it.
    return json(201, await destinations.create(segmentId, parsed.data));
  }
  const list = await destinations.forSegment(segmentId);
  return json(200, {
    segmentId,
    destinations: await Promise.all(
      list.map(async (d) => ({
        ...d,
        settings: masked(d.settings),
        syncs: await destinations.syncs(d.destinationId),
      })),
    ),
  });
}
