import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { dynamoDbDocumentClient, sfnClient } from '../../adapters/aws/clients.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { type DestinationInput, DestinationInputSchema } from '../../core/activate/destinations.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { startSegmentRun } from '../segment/start-run.js';
import { withAccess } from '../shared/access.js';
import { error, type HttpResponse, invalidAdminRequest, json, parseJsonBody } from '../shared/http.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.profilesTable]: nonEmptyString,
  [ENV.segmentRunStateMachineArn]: nonEmptyString,
});
const sfn = sfnClient();
const logger = createLogger('destinations');

/**
 * Sends a destination the segment's current members: a batch run of that segment that also emits, to
 * this destination only, the `entered` every current member once emitted. Deltas it already has are
 * skipped by their ids, so a repeat is harmless.
 */
function startCatchUp(segmentId: string, destinationId: string) {
  return startSegmentRun(
    sfn,
    config[ENV.segmentRunStateMachineArn],
    `catchup-${destinationId}-${Date.now()}`,
    {
      segmentIds: [segmentId],
      catchUpDestinationId: destinationId,
    },
  );
}
const ddb = dynamoDbDocumentClient();
const destinations = new DestinationStore(ddb, config[ENV.controlTable]);
const segments = new SegmentStore(ddb, config[ENV.controlTable], config[ENV.profilesTable]);

const masked = (settings: Record<string, unknown>) =>
  settings.secret ? { ...settings, secret: '********' } : settings;

type Parsed = { ok: true; input: DestinationInput } | { ok: false; response: HttpResponse };

function parseDestination(event: APIGatewayProxyEventV2): Parsed {
  const body = parseJsonBody(event);
  if (!body.ok) return body;
  const parsed = DestinationInputSchema.safeParse(body.value);
  if (!parsed.success)
    return {
      ok: false,
      response: error(400, {
        code: 'invalid_destination',
        message: 'The destination is invalid',
        issues: parsed.error.issues.map((i) => ({ field: i.path.join('.'), rule: i.message })),
      }),
    };
  return { ok: true, input: parsed.data };
}

/**
 * `POST/GET /v1/segments/{id}/destinations`: configure a destination; list them with their syncs.
 * `PUT/DELETE /v1/segments/{id}/destinations/{destinationId}`: change or disconnect one.
 */
export const handler = withAccess(route);

async function route(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const malformed = invalidAdminRequest(event);
  if (malformed) return malformed;
  const segmentId = event.pathParameters?.id ?? '';
  if (!(await segments.get(segmentId)))
    return error(404, { code: 'not_found', message: `No segment ${segmentId}` });
  const method = event.requestContext.http.method;
  const destinationId = event.pathParameters?.destinationId;
  if (destinationId !== undefined) return one(method, segmentId, destinationId, event);
  if (method === 'POST') {
    const parsed = parseDestination(event);
    if (!parsed.ok) return parsed.response;
    // The webhook secret is shown once, here; later reads mask it.
    const created = await destinations.create(segmentId, parsed.input);
    let catchUp: Record<string, string>;
    try {
      catchUp = await startCatchUp(segmentId, created.destinationId);
    } catch (err) {
      // The destination exists either way; its owner can start the catch-up again with `/sync`.
      logger.error('catch-up could not start', {
        destinationId: created.destinationId,
        errorName: (err as Error).name,
      });
      catchUp = {
        status: 'not_started',
        retry: `POST /v1/segments/${segmentId}/destinations/${created.destinationId}/sync`,
      };
    }
    return json(201, { ...created, catchUp });
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

async function one(
  method: string,
  segmentId: string,
  destinationId: string,
  event: APIGatewayProxyEventV2,
): Promise<HttpResponse> {
  const missing = () =>
    error(404, { code: 'not_found', message: `No destination ${destinationId} on segment ${segmentId}` });
  const current = await destinations.get(segmentId, destinationId);
  if (!current) return missing();
  if (event.rawPath.endsWith('/sync'))
    return json(202, { catchUp: await startCatchUp(segmentId, destinationId) });
  if (method === 'DELETE') {
    await destinations.delete(segmentId, destinationId);
    return json(200, { success: true, destinationId, deleted: true });
  }
  const parsed = parseDestination(event);
  if (!parsed.ok) return parsed.response;
  if (parsed.input.type !== current.type)
    return error(400, {
      code: 'invalid_destination',
      message: 'A destination keeps its type; create a new destination for another channel',
      issues: [{ field: 'type', rule: `must be ${current.type}` }],
    });
  const updated = await destinations.update(current, parsed.input);
  if (!updated) return missing();
  return json(200, { ...updated, settings: masked(updated.settings) });
}
