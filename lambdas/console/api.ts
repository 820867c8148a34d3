import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { dynamoDbDocumentClient, kinesisClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import { SourceStore } from '../../adapters/dynamodb/source-store.js';
import { readRecentRecords } from '../../adapters/kinesis/recent-events.js';
import { metricsReader } from '../../adapters/observability/metrics-reader.js';
import { readRecentQuarantine } from '../../adapters/s3/recent-quarantine.js';
import { acceptedEntry, type DebugEntry, debugView, quarantinedEntry } from '../../core/console/debugger.js';
import {
  OVERVIEW_PERIOD_SECONDS,
  overviewLines,
  overviewMetrics,
  overviewWindow,
  quarantineSummary,
} from '../../core/console/overview.js';
import { decodeRecord, plainRecordBytes } from '../../core/events/record-codec.js';
import { lazySchema } from '../../core/shared/lazy-schema.js';
import '../../core/shared/zod.js';
import {
  ENV,
  jsonDocument,
  loadConfig,
  nonEmptyString,
  positiveNumber,
  stringMap,
  withDefault,
} from '../../resources/env.js';
import { ALARM_RULES } from '../../resources/metrics.js';
import { principalOf, withAccess } from '../shared/access.js';
import { error, type HttpResponse, json, parseJsonBody } from '../shared/http.js';

const config = loadConfig({
  [ENV.controlTable]: nonEmptyString,
  [ENV.eventsStream]: nonEmptyString,
  [ENV.lakeBucket]: nonEmptyString,
  [ENV.profilesTable]: nonEmptyString,
  [ENV.overviewFunctionNames]: withDefault(
    jsonDocument(stringMap, 'must be a JSON object of function names'),
    {} as Record<string, string>,
  ),
  [ENV.maxIteratorAgeMinutes]: withDefault(
    positiveNumber('minutes'),
    ALARM_RULES.defaultMaxIteratorAgeMinutes,
  ),
});
const ddb = dynamoDbDocumentClient();
const sources = new SourceStore(ddb, config[ENV.controlTable]);
const segmentRuns = new SegmentStore(ddb, config[ENV.controlTable], config[ENV.profilesTable]);
const OVERVIEW_METRICS = overviewMetrics(config[ENV.overviewFunctionNames]);
const kinesis = kinesisClient();
const s3 = s3Client();

const SourceInputSchema = lazySchema(() =>
  z.object({
    name: z
      .string()
      .check(z.trim(), z.minLength(1, 'is required'), z.maxLength(100, 'must be at most 100 characters')),
  }),
);
const RotateSchema = lazySchema(() =>
  z.object({
    overlapHours: z._default(
      z
        .number()
        .check(
          z.int('must be a whole number'),
          z.gte(0, 'must be at least 0'),
          z.lte(168, 'must be at most 168 (7 days)'),
        ),
      24,
    ),
  }),
);
const OverviewQuerySchema = lazySchema(() =>
  z.object({
    minutes: z._default(
      z.coerce
        .number()
        .check(
          z.int('must be a whole number'),
          z.gte(5, 'must be at least 5'),
          z.lte(1440, 'must be at most 1440 (a day)'),
        ),
      60,
    ),
  }),
);
const DebugQuerySchema = lazySchema(() =>
  z.object({
    sourceId: z.optional(z.string().check(z.maxLength(100))),
    seconds: z._default(
      z.coerce
        .number()
        .check(
          z.int('must be a whole number'),
          z.gte(1, 'must be at least 1'),
          z.lte(3600, 'must be at most 3600'),
        ),
      300,
    ),
    limit: z._default(
      z.coerce
        .number()
        .check(
          z.int('must be a whole number'),
          z.gte(1, 'must be at least 1'),
          z.lte(200, 'must be at most 200'),
        ),
      100,
    ),
  }),
);

function invalid(code: string, message: string, issues: z.core.$ZodIssue[]): HttpResponse {
  return error(400, {
    code,
    message,
    issues: issues.map((i) => ({ field: i.path.join('.') || '(body)', rule: i.message })),
  });
}

/**
 * The console's own admin API: who am I (`/v1/me`), sources and write keys (`/v1/sources`), and the
 * live event debugger (`/v1/debug/events`) and the data-flow overview (`/v1/overview`). Roles are enforced by `withAccess` on every route.
 */
export const handler = withAccess(route);

async function route(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  switch (event.routeKey) {
    case 'GET /v1/me': {
      const me = principalOf(event)!;
      return json(200, { id: me.id, kind: me.kind, roles: me.roles });
    }
    case 'GET /v1/sources':
      return json(200, { sources: await sources.listSources() });
    case 'POST /v1/sources': {
      const body = parseJsonBody(event);
      if (!body.ok) return body.response;
      const parsed = SourceInputSchema.safeParse(body.value);
      if (!parsed.success) return invalid('invalid_source', 'The source is invalid', parsed.error.issues);
      const { source, writeKey } = await sources.createSource(parsed.data.name);
      return json(201, { ...source, writeKey });
    }
    case 'POST /v1/sources/{id}/rotate': {
      const body = event.body ? parseJsonBody(event) : { ok: true as const, value: {} };
      if (!body.ok) return body.response;
      const parsed = RotateSchema.safeParse(body.value);
      if (!parsed.success) return invalid('invalid_rotation', 'The rotation is invalid', parsed.error.issues);
      const rotated = await sources.rotateKey(event.pathParameters?.id ?? '', parsed.data.overlapHours);
      if (!rotated) return error(404, { code: 'not_found', message: 'No active source with this id' });
      return json(200, rotated);
    }
    case 'POST /v1/sources/{id}/revoke': {
      const ok = await sources.revokeSource(event.pathParameters?.id ?? '');
      if (!ok) return error(404, { code: 'not_found', message: 'No source with this id' });
      return json(200, { revoked: true });
    }
    case 'GET /v1/debug/events':
      return debugEvents(event);
    case 'GET /v1/overview':
      return overview(event);
    default:
      return error(404, { code: 'not_found', message: `No route ${event.routeKey}` });
  }
}

async function debugEvents(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const query = DebugQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) return invalid('invalid_query', 'The query is invalid', query.error.issues);
  const now = new Date();
  const since = new Date(now.getTime() - query.data.seconds * 1000);
  const [records, quarantined] = await Promise.all([
    readRecentRecords(kinesis, config[ENV.eventsStream], since),
    readRecentQuarantine(s3, config[ENV.lakeBucket], ['collect', 'process'], since, now),
  ]);
  const entries: DebugEntry[] = [];
  for (const r of records) {
    try {
      entries.push(acceptedEntry(JSON.parse(decodeRecord(r.data)), r.arrivedAt));
    } catch {
      // The processor quarantines records that are not JSON; they show up from there.
    }
  }
  for (const q of quarantined)
    entries.push(quarantinedEntry(q, plainRecordBytes(Buffer.from(q.raw, 'base64')).toString('utf8')));
  return json(200, {
    since: since.toISOString(),
    entries: debugView(entries, query.data.sourceId, query.data.limit),
  });
}

/**
 * The data-flow overview: per-minute lines from the metrics the alarms watch (CloudWatch on AWS, the
 * local metrics store locally), each alarmed line with the state its alarm would be in; the last
 * hour's quarantine by reason and the last segment runs from their own stores.
 */
async function overview(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const query = OverviewQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) return invalid('invalid_query', 'The query is invalid', query.error.issues);
  const now = new Date();
  const window = overviewWindow(now, query.data.minutes);
  const hourAgo = new Date(now.getTime() - 3_600_000);
  const [series, quarantined, runs] = await Promise.all([
    metricsReader().read(OVERVIEW_METRICS, window.start, window.end, OVERVIEW_PERIOD_SECONDS),
    readRecentQuarantine(s3, config[ENV.lakeBucket], ['collect', 'process'], hourAgo, now),
    segmentRuns.listRuns(5),
  ]);
  return json(200, {
    from: window.start.toISOString(),
    to: window.end.toISOString(),
    periodSeconds: OVERVIEW_PERIOD_SECONDS,
    maxIteratorAgeMinutes: config[ENV.maxIteratorAgeMinutes],
    lines: overviewLines(OVERVIEW_METRICS, series, window, config[ENV.maxIteratorAgeMinutes]),
    quarantine: { since: hourAgo.toISOString(), ...quarantineSummary(quarantined) },
    segmentRuns: runs,
  });
}
