import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { sfnClient } from '../../adapters/aws/clients.js';
import { compileSegment } from '../../core/segments/engine.js';
import { SegmentInputSchema } from '../../core/segments/language.js';
import { anyString, ENV, loadConfig, optional } from '../../resources/env.js';
import { withAccess } from '../shared/access.js';
import { error, type HttpResponse, invalidAdminRequest, json, parseJsonBody } from '../shared/http.js';
import { profileRef } from '../shared/profile-ref.js';
import { segmentationDeps } from './deps.js';
import { startSegmentRun } from './start-run.js';

const { reader, segments, timeline } = segmentationDeps();
const config = loadConfig({ [ENV.segmentRunStateMachineArn]: optional(anyString) });
const sfn = sfnClient();

function validate(body: unknown) {
  const parsed = SegmentInputSchema.safeParse(body);
  if (parsed.success) return { ok: true as const, input: parsed.data };
  return {
    ok: false as const,
    response: error(400, {
      code: 'invalid_segment',
      message: 'The segment definition is invalid',
      issues: parsed.error.issues.map((i) => ({ field: i.path.join('.'), rule: i.message })),
    }),
  };
}

const PREVIEW_FULL_SCAN = 2_000;
const PREVIEW_SAMPLE_SEGMENTS = 16;

/** Size estimate and sample members without saving: exact on small tables, a 1/16 sample otherwise. */
async function preview(body: unknown): Promise<HttpResponse> {
  const v = validate(body);
  if (!v.ok) return v.response;
  const compiled = compileSegment({
    ...v.input,
    segmentId: 'preview',
    createdAt: '',
    updatedAt: '',
    realtime: false,
  });
  const now = Date.now();
  const matchesOf = async (states: Awaited<ReturnType<typeof reader.scanStates>>['items']) => {
    const out = [];
    for (const s of states) {
      // The profile (traits, its event aggregate) decides most; only the rest read their timeline.
      const known = compiled.needsTimeline
        ? compiled.timing.decideWithoutEvents({ profile: s, now })
        : undefined;
      const events = compiled.needsTimeline && known === undefined ? await timeline.timeline(s) : undefined;
      if (known ?? compiled.predicate({ profile: s, events, now })) out.push(s);
    }
    return out;
  };
  const first = await reader.scanStates({ limit: PREVIEW_FULL_SCAN });
  if (!first.cursor) {
    const matched = await matchesOf(first.items);
    return json(200, {
      estimatedSize: matched.length,
      exact: true,
      scanned: first.items.length,
      sample: matched.slice(0, 10).map((p) => ({ profileId: p.profileId, traits: p.traits })),
    });
  }
  let scanned = 0;
  const matched = [];
  let cursor: string | undefined;
  do {
    const page = await reader.scanStates({
      segment: 0,
      totalSegments: PREVIEW_SAMPLE_SEGMENTS,
      cursor,
      limit: 1000,
    });
    scanned += page.items.length;
    matched.push(...(await matchesOf(page.items)));
    cursor = page.cursor;
  } while (cursor);
  return json(200, {
    estimatedSize: matched.length * PREVIEW_SAMPLE_SEGMENTS,
    exact: false,
    scanned,
    sample: matched.slice(0, 10).map((p) => ({ profileId: p.profileId, traits: p.traits })),
  });
}

/** Segments API: definitions, members, preview, on-demand runs, and a profile's segments. */
export const handler = withAccess(route);

async function route(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const malformed = invalidAdminRequest(event);
  if (malformed) return malformed;
  const id = event.pathParameters?.id;
  const notFound = () => error(404, { code: 'not_found', message: `No segment ${id}` });
  switch (event.routeKey) {
    case 'POST /v1/segments': {
      const body = parseJsonBody(event);
      if (!body.ok) return body.response;
      const v = validate(body.value);
      if (!v.ok) return v.response;
      return json(201, await segments.create(v.input));
    }
    case 'GET /v1/segments':
      return json(200, { segments: await segments.list() });
    case 'POST /v1/segments/preview': {
      const body = parseJsonBody(event);
      return body.ok ? preview(body.value) : body.response;
    }
    case 'GET /v1/segments/{id}': {
      const s = await segments.get(id!);
      return s ? json(200, s) : notFound();
    }
    case 'PUT /v1/segments/{id}': {
      const body = parseJsonBody(event);
      if (!body.ok) return body.response;
      const v = validate(body.value);
      if (!v.ok) return v.response;
      const s = await segments.update(id!, v.input);
      return s ? json(200, s) : notFound();
    }
    case 'DELETE /v1/segments/{id}':
      return (await segments.delete(id!)) ? json(200, { success: true }) : notFound();
    case 'GET /v1/segments/{id}/members': {
      if (!(await segments.get(id!))) return notFound();
      const q = event.queryStringParameters ?? {};
      const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 1000);
      try {
        return json(200, {
          segmentId: id,
          ...(await segments.listMembers(id!, { limit, cursor: q.cursor })),
        });
      } catch (err) {
        if (!(err instanceof RangeError || (err as Error).name === 'ValidationException')) throw err;
        return error(400, {
          code: 'invalid_query',
          message: 'The query is invalid',
          issues: [{ field: 'cursor', rule: 'must be a cursor from a previous page' }],
        });
      }
    }
    case 'POST /v1/segments/{id}/run': {
      if (!(await segments.get(id!))) return notFound();
      const arn = config[ENV.segmentRunStateMachineArn];
      if (!arn) return error(503, { code: 'unavailable', message: 'Batch runs are not configured' });
      const runId = `run-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
      return json(202, await startSegmentRun(sfn, arn, runId, { segmentIds: [id!] }));
    }
    case 'GET /v1/segment-runs':
      return json(200, { runs: await segments.listRuns(20) });
    case 'GET /v1/segments/runs/{runId}': {
      const run = await segments.getRun(event.pathParameters?.runId ?? '');
      return run
        ? json(200, run)
        : error(404, {
            code: 'not_found',
            message: 'No run with this id',
          });
    }
    case 'GET /v1/profiles/{id}/segments': {
      const ref = await profileRef(id ?? '');
      if (!ref)
        return error(400, {
          code: 'invalid_id',
          message: 'The id must be a profile id or type:value',
          issues: [{ field: 'id', rule: 'must be a profile id or type:value' }],
        });
      const state = await reader.find(ref);
      if (!state) return error(404, { code: 'not_found', message: 'No profile matches this id' });
      // Only segments that exist: a membership can outlive its deleted segment (see `delete`).
      const [held, defined] = await Promise.all([
        segments.segmentsOfProfile(state.profileId),
        segments.list(),
      ]);
      const known = new Set(defined.map((s) => s.segmentId));
      return json(200, {
        profileId: state.profileId,
        segments: held.filter((m) => known.has(m.segmentId)),
      });
    }
    default:
      return error(404, { code: 'not_found', message: `No route ${event.routeKey}` });
  }
}
