import { randomBytes } from 'node:crypto';
import { type SFNClient, SFNClient as Sfn, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { type ReplayRecord, ReplayStore } from '../../adapters/dynamodb/replay-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { ReplayReader } from '../../adapters/s3/replay-reader.js';
import type { MessageFilter } from '../../core/collect/ingest.js';
import { nextHour } from '../../core/lake/columnar.js';
import { hourBounds, inRange, NO_REPLAY_COUNTS, START } from '../../core/replay/plan.js';
import { parseReplayRequest, type ReplayRequest } from '../../core/replay/request.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { error, type HttpResponse, json, parseJsonBody } from '../shared/http.js';
import { replayErasureFilter } from './erasure.js';

/** A dry run reads for at most this long; a longer range answers with what it counted and where it stopped. */
const DRY_RUN_BUDGET_MS = 20_000;

const logger = createLogger('replay-api');
let deps:
  | {
      store: ReplayStore;
      reader: ReplayReader;
      erased: MessageFilter;
      sfn: SFNClient;
      stateMachineArn: string;
    }
  | undefined;

// Read on the first replay request: the function these routes share serves other routes too.
function apiDeps() {
  if (deps) return deps;
  const config = loadConfig({
    [ENV.controlTable]: nonEmptyString,
    [ENV.lakeBucket]: nonEmptyString,
    [ENV.replayRunStateMachineArn]: nonEmptyString,
  });
  const ddb = dynamoDbDocumentClient();
  deps = {
    store: new ReplayStore(ddb, config[ENV.controlTable]),
    reader: new ReplayReader(s3Client(), config[ENV.lakeBucket]),
    erased: replayErasureFilter(ddb, config[ENV.controlTable]),
    sfn: new Sfn({}),
    stateMachineArn: config[ENV.replayRunStateMachineArn],
  };
  return deps;
}

/** `POST /v1/replays`, `GET /v1/replays`, `GET /v1/replays/{id}` (admin; see the README's Replay section). */
export async function replayRoute(event: APIGatewayProxyEventV2): Promise<HttpResponse> {
  const { store } = apiDeps();
  const method = event.requestContext.http.method;
  if (method === 'GET') {
    const id = event.pathParameters?.id;
    if (id !== undefined) {
      const record = await store.get(id);
      return record ? json(200, record) : error(404, { code: 'not_found', message: `No replay ${id}` });
    }
    const limit = Number(event.queryStringParameters?.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return error(400, {
        code: 'invalid_query',
        message: 'The query is invalid',
        issues: [{ field: 'limit', rule: 'must be a whole number from 1 to 100' }],
      });
    const cursor = event.queryStringParameters?.cursor;
    try {
      return json(200, await store.list(limit, cursor));
    } catch (err) {
      if (cursor === undefined) throw err;
      return error(400, {
        code: 'invalid_query',
        message: 'The query is invalid',
        issues: [{ field: 'cursor', rule: 'must be a cursor a previous page returned' }],
      });
    }
  }
  const body = parseJsonBody(event);
  if (!body.ok) return body.response;
  const now = new Date();
  const parsed = parseReplayRequest(body.value, now);
  if (!parsed.ok)
    return error(400, {
      code: 'invalid_replay',
      message: 'The replay request is invalid',
      issues: parsed.issues,
    });
  const request = parsed.request;
  if (request.dryRun) return json(200, await dryRun(request));
  return start(request, now);
}

async function start(request: ReplayRequest, now: Date): Promise<HttpResponse> {
  const started = await startReplay(apiDeps(), request, now);
  if (!started.ok)
    return error(409, {
      code: 'replay_running',
      message: `Replay ${started.holder} is still running; wait for it to finish (GET /v1/replays/${started.holder})`,
    });
  logger.info('replay started', { replayId: started.replayId, from: request.from });
  return json(202, {
    replayId: started.replayId,
    status: 'queued',
    location: `/v1/replays/${started.replayId}`,
  });
}

/**
 * Records a replay and starts its execution, unless another one is queued or running (replays share
 * the processor's replay lane: one at a time). Also used by `npm run cdp -- rebuild --aws`.
 */
export async function startReplay(
  deps: { store: ReplayStore; sfn: SFNClient; stateMachineArn: string },
  request: ReplayRequest,
  now: Date,
): Promise<{ ok: true; replayId: string } | { ok: false; holder: string }> {
  const { store, sfn, stateMachineArn } = deps;
  const replayId = `rpl_${randomBytes(12).toString('hex')}`;
  const record: ReplayRecord = {
    replayId,
    request,
    status: 'queued',
    counts: NO_REPLAY_COUNTS,
    cursor: START,
    createdAt: now.toISOString(),
  };
  const slot = await store.claimSlot(replayId);
  if (!slot.ok) return slot;
  await store.create(record);
  try {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: replayId,
        input: JSON.stringify({ replayId, cursor: START, counts: NO_REPLAY_COUNTS, slice: 0, done: false }),
      }),
    );
  } catch (err) {
    await store.update(replayId, {
      status: 'failed',
      error: 'the replay could not be started',
      finishedAt: now.toISOString(),
    });
    await store.releaseSlot(replayId);
    throw err;
  }
  return { ok: true, replayId };
}

interface DryRun {
  readonly dryRun: true;
  readonly request: ReplayRequest;
  /** False when the budget ran out: counts cover the hours before `countedUntil`. */
  readonly complete: boolean;
  readonly countedUntil: string;
  readonly read: number;
  readonly erased: number;
  /** Quarantine: matching records by stage and reason. Lake: events by source. */
  readonly groups: ReadonlyArray<{ stage?: string; reason?: string; source?: string; count: number }>;
}

/** Counts what a replay would read, changing nothing. */
async function dryRun(request: ReplayRequest): Promise<DryRun> {
  const { reader, erased } = apiDeps();
  const started = Date.now();
  const groups = new Map<string, { stage?: string; reason?: string; source?: string; count: number }>();
  const bump = (key: string, group: { stage?: string; reason?: string; source?: string }) =>
    groups.set(key, { ...group, count: (groups.get(key)?.count ?? 0) + 1 });
  let read = 0;
  let dropped = 0;
  const { first, last } = hourBounds(request.since, request.until);
  const sources = request.from === 'lake' ? (request.sources ?? (await reader.sources())) : [];
  let countedUntil = request.since;
  for (let from = first; ; ) {
    if (Date.now() - started > DRY_RUN_BUDGET_MS)
      return {
        dryRun: true,
        request,
        complete: false,
        countedUntil,
        read,
        erased: dropped,
        groups: [...groups.values()],
      };
    const hour =
      request.from === 'lake'
        ? await reader.nextLakeHour(sources, from, last)
        : await reader.nextQuarantineHour(request.stage as 'process', from, last);
    if (hour === undefined) break;
    if (request.from === 'lake') {
      for (const source of sources) {
        const lines = (await reader.hourLines(source, hour)).filter((l) =>
          inRange(l.receivedAt, request.since, request.until),
        );
        const messages = lines.flatMap((l) => {
          try {
            return [JSON.parse(l.line) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
        const { dropped: gone } = await erased(messages as never);
        read += lines.length;
        dropped += gone;
        for (let i = 0; i < lines.length; i++) bump(source, { source });
      }
    } else {
      for (const key of await reader.quarantineKeys(request.stage as 'process', hour))
        for (const r of await reader.quarantineRecords(key)) {
          if (
            r.stage !== request.stage ||
            !inRange(r.quarantinedAt, request.since, request.until) ||
            (request.reason !== undefined && r.reason !== request.reason) ||
            (request.source !== undefined && r.sourceId !== request.source)
          )
            continue;
          read++;
          bump(`${r.stage}\0${r.reason}`, { stage: r.stage, reason: r.reason });
        }
    }
    const end = new Date(Date.parse(`${hour}:00:00.000Z`) + 3_600_000).toISOString();
    // ISO times in UTC compare as strings.
    countedUntil = [end, request.until].sort()[0]!;
    if (hour === last) break;
    from = nextHour(hour);
  }
  countedUntil = request.until;
  return {
    dryRun: true,
    request,
    complete: true,
    countedUntil,
    read,
    erased: dropped,
    groups: [...groups.values()],
  };
}
