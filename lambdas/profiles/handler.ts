import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { readMergedIdentities } from '../../adapters/dynamodb/merged-identities.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { toProfile } from '../../core/profiles/state.js';
import { lazySchema } from '../../core/shared/lazy-schema.js';
import '../../core/shared/zod.js';
import { ENV, loadConfig, nonEmptyString, optional } from '../../resources/env.js';
import { withAccess } from '../shared/access.js';
import { error, type HttpResponse, invalidAdminRequest, json } from '../shared/http.js';
import { profileRef } from '../shared/profile-ref.js';

const config = loadConfig({
  [ENV.profilesTable]: nonEmptyString,
  [ENV.timelineTable]: optional(nonEmptyString),
});
const ddb = dynamoDbDocumentClient();
const reader = new ProfileReader(
  ddb,
  config[ENV.profilesTable],
  config[ENV.timelineTable] ?? config[ENV.profilesTable],
);

const LimitSchema = lazySchema(() =>
  z.coerce
    .number()
    .check(
      z.int('must be a whole number'),
      z.gte(1, 'must be at least 1'),
      z.lte(100, 'must be at most 100'),
    ),
);

/** Profile API: `GET /v1/profiles/{id}[/traits|/events|/identities|/merges]`, id = profile id or `type:value`. */
export const handler = withAccess(route);

async function route(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const malformed = invalidAdminRequest(event);
  if (malformed) return malformed;
  const id = event.pathParameters?.id ?? '';
  const ref = await profileRef(id);
  if (!ref)
    return error(400, {
      code: 'invalid_id',
      message: 'The id must be a profile id (p_...) or type:value, e.g. email:ada@example.com',
      issues: [{ field: 'id', rule: 'must be a profile id or type:value' }],
    });
  const state = await reader.find(ref);
  if (!state)
    return error(404, {
      code: 'not_found',
      message: `No profile matches ${typeof ref === 'string' ? 'this profile id' : `this ${ref.type}`}`,
    });

  const sub = event.rawPath.split('/')[4];
  switch (sub) {
    case undefined: {
      const profile = toProfile(state);
      return json(200, { ...profile, mergedFrom: state.mergedFrom });
    }
    case 'traits':
      return json(200, {
        profileId: state.profileId,
        traits: state.traits,
        computed: state.computed,
        consent: state.consent,
      });
    case 'identities':
      return json(200, { profileId: state.profileId, identities: state.identities });
    case 'merges': {
      // With what each merged-away profile brought: the console draws the identity graph from it.
      const [merges, mergedProfiles] = await Promise.all([
        reader.listMerges(state),
        readMergedIdentities(ddb, config[ENV.profilesTable], state.mergedFrom),
      ]);
      return json(200, { profileId: state.profileId, mergedFrom: state.mergedFrom, merges, mergedProfiles });
    }
    case 'events': {
      const q = event.queryStringParameters ?? {};
      const limit = LimitSchema.safeParse(q.limit ?? 25);
      if (!limit.success)
        return error(400, {
          code: 'invalid_query',
          message: 'The query is invalid',
          issues: [{ field: 'limit', rule: limit.error.issues[0]!.message }],
        });
      try {
        const page = await reader.listTimeline(state, { limit: limit.data, cursor: q.cursor });
        return json(200, {
          profileId: state.profileId,
          events: page.items,
          ...(page.cursor ? { cursor: page.cursor } : {}),
        });
      } catch (err) {
        // A cursor from elsewhere (another profile's page, another API) is a key DynamoDB refuses.
        if (err instanceof RangeError || (err as Error).name === 'ValidationException')
          return error(400, {
            code: 'invalid_query',
            message: 'The query is invalid',
            issues: [{ field: 'cursor', rule: 'must be a cursor from a previous page' }],
          });
        throw err;
      }
    }
    default:
      return error(404, { code: 'not_found', message: `No resource ${sub}` });
  }
}
