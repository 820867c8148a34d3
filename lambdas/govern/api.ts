import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { dynamoDbDocumentClient, sfnClient } from '../../adapters/aws/clients.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { RegulationStore } from '../../adapters/dynamodb/regulation-store.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { TombstoneStore } from '../../adapters/dynamodb/tombstone-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import {
  hashIdentity,
  namesAPhone,
  RegulationListQuerySchema,
  RegulationRequestSchema,
} from '../../core/govern/regulation.js';
import { loadPhoneNumbers } from '../../core/shared/phone-numbers.js';
import { ENV, loadConfig, nonEmptyString, optional } from '../../resources/env.js';
import { principalOf, withAccess } from '../shared/access.js';
import { error, type HttpResponse, invalidAdminRequest, json, parseJsonBody } from '../shared/http.js';
import { resolveSubject, tombstonesOf } from './subject.js';
import { WorkItems } from './work-item.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.regulationRunStateMachineArn]: nonEmptyString,
  [ENV.profilesTable]: nonEmptyString,
  [ENV.timelineTable]: optional(nonEmptyString),
});
const ddb = dynamoDbDocumentClient();
const reader = new ProfileReader(
  ddb,
  config[ENV.profilesTable],
  config[ENV.timelineTable] ?? config[ENV.profilesTable],
);
const tombstones = new TombstoneStore(ddb, config[ENV.controlTable]);
const regulations = new RegulationStore(ddb, config[ENV.controlTable]);
const suppressions = new SuppressionStore(ddb, config[ENV.controlTable]);
const work = new WorkItems(ddb, config[ENV.controlTable]);
const sfn = sfnClient();
const logger = createLogger('regulations');

/** Regulations API: `POST /v1/regulations`, `GET /v1/regulations[/{id}]` (admin only). */
export const handler = withAccess(route);

async function route(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const malformed = invalidAdminRequest(event);
  if (malformed) return malformed;
  if (event.requestContext.http.method === 'GET') {
    const id = event.pathParameters?.id;
    if (id === undefined) return list(event);
    const r = await regulations.get(id);
    return r ? json(200, r) : error(404, { code: 'not_found', message: 'No regulation with this id' });
  }
  const body = parseJsonBody(event);
  if (!body.ok) return body.response;
  if (namesAPhone(body.value)) await loadPhoneNumbers();
  const parsed = RegulationRequestSchema.safeParse(body.value);
  if (!parsed.success)
    return error(400, {
      code: 'invalid_regulation',
      message: 'The regulation is invalid',
      issues: parsed.error.issues.map((i) => ({ field: i.path.join('.'), rule: i.message })),
    });
  const { type, identifiers } = parsed.data;
  // The IAM principal's ARN, or the console user's name: the audit log says who asked.
  const requestedBy = principalOf(event)?.id ?? 'unknown';
  const regulation = await regulations.create({
    type,
    identifierHashes: identifiers.map(hashIdentity),
    identifierTypes: [...new Set(identifiers.map((i) => i.type))].sort(),
    requestedBy,
  });
  logger.info('regulation received', {
    regulationId: regulation.regulationId,
    type,
    identifiers: identifiers.length,
  });

  if (type === 'unsuppress' || type === 'suppress') {
    if (type === 'suppress') await suppressions.suppress(identifiers, regulation.regulationId);
    else {
      await suppressions.unsuppress(identifiers);
      await tombstones.lift(identifiers.map(hashIdentity));
    }
    const count = identifiers.length;
    await regulations.recordStore(regulation.regulationId, 'suppression', { status: 'done', count });
    await regulations.finish(regulation.regulationId, 'completed');
    return json(202, { regulationId: regulation.regulationId, status: 'completed' });
  }
  // From this moment every stage drops the person's records (tombstones), and with suppression the
  // collector stops taking new ones; the job erases what was stored, once in-flight data has landed.
  const suppress = type === 'delete_and_suppress';
  const acceptedAt = regulation.createdAt;
  const found = await resolveSubject(reader, identifiers);
  await tombstones.record(
    tombstonesOf(
      { regulationId: regulation.regulationId, acceptedAt, suppress },
      found.subject,
      found.profileIds,
    ),
  );
  if (suppress) await suppressions.suppress(found.subject, regulation.regulationId);
  await work.put({
    regulationId: regulation.regulationId,
    type,
    acceptedAt,
    requested: identifiers,
    subject: found.subject,
    profileIds: found.profileIds,
    rootIds: found.rootIds,
  });
  await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: config[ENV.regulationRunStateMachineArn],
      name: regulation.regulationId,
      input: JSON.stringify({ regulationId: regulation.regulationId }),
    }),
  );
  return json(202, { regulationId: regulation.regulationId, status: 'running' });
}

async function list(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  if (namesAPhone(event.queryStringParameters)) await loadPhoneNumbers();
  const query = RegulationListQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success)
    return error(400, {
      code: 'invalid_query',
      message: 'The query is invalid',
      issues: query.error.issues.map((i) => ({ field: i.path.join('.'), rule: i.message })),
    });
  const { identifier, limit, cursor } = query.data;
  try {
    return json(
      200,
      await regulations.list({
        limit,
        cursor,
        identifierHash: identifier ? hashIdentity(identifier) : undefined,
      }),
    );
  } catch (err) {
    if (err instanceof RangeError || (err as Error).name === 'ValidationException')
      return error(400, {
        code: 'invalid_query',
        message: 'The query is invalid',
        issues: [{ field: 'cursor', rule: 'must be a cursor from a previous page' }],
      });
    throw err;
  }
}
