import { createHash } from 'node:crypto';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { exportAudiences } from '../../adapters/activate/audience-export.js';
import { sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { erasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import { IdentityChecker } from '../../adapters/dynamodb/identity-checker.js';
import { MEMBERSHIPS_SETTLED_ATTRIBUTE } from '../../adapters/dynamodb/segment-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { deltaSinkFromEnv } from '../../adapters/segments/delta-sink.js';
import { identityLimits } from '../../core/identity/identifiers.js';
import type { DeltaTarget } from '../../core/segments/delta.js';
import {
  compileSegment,
  type EvaluationCounts,
  evaluateProfiles,
  sweepMergedAway,
} from '../../core/segments/engine.js';
import { chooseMode, coveredUntil, dueHorizon, groupByBucket } from '../../core/segments/incremental.js';
import { answeringFrom } from '../../core/segments/known-memberships.js';
import { runSlice, scanSegmentsFor } from '../../core/segments/scan-plan.js';
import { lazySchema } from '../../core/shared/lazy-schema.js';
import '../../core/shared/zod.js';
import { ENV, loadConfig, nonEmptyString, wholeNumber, withDefault } from '../../resources/env.js';
import { SEGMENT_RUNNER_FUNCTION } from '../../resources/functions/segment.js';
import { METRIC } from '../../resources/metrics.js';
import { segmentationDeps } from './deps.js';
import { screenMembershipWrites } from './erasure-screen.js';

const { reader, segments, timeline, changeLog, ddb, profilesTable, timelineTable } = segmentationDeps();
// The batch runner is the only segmentation handler that checks identities (the API and the
// processor's listeners share the deps above without it); the settings are validated at cold start.
const checker = new IdentityChecker(ddb, profilesTable, {
  timelineRetentionDays: Number(process.env[ENV.timelineRetentionDays] ?? 90),
  limits: identityLimits(process.env[ENV.identityConfig]),
  timelineTable,
});
const sink = deltaSinkFromEnv();
const logger = createLogger('segment-runner');
const metrics = createMetrics('segment-runner');
const destinations = new DestinationStore(
  dynamoDbDocumentClient(),
  loadConfig({ [ENV.controlTable]: nonEmptyString })[ENV.controlTable],
);
const senders = sendersFromEnv(process.env, s3Client());
const runConfig = loadConfig({
  [ENV.segmentScanSegments]: withDefault(wholeNumber(), 4),
  [ENV.segmentFullRunHours]: withDefault(wholeNumber('hours'), 24),
});
const scanSegments = runConfig[ENV.segmentScanSegments];
/** Hours between full runs when incremental runs are asked for (the safety net). */
const fullRunHours = Math.max(1, runConfig[ENV.segmentFullRunHours]);

const RequestSchema = lazySchema(() =>
  z.object({
    segmentIds: z.optional(z.array(z.string())),
    /** Profiles read per scan page. */
    pageSize: z._default(z.number().check(z.int(), z.gte(1), z.lte(1_000)), 500),
    /** How long one runner invocation evaluates before it hands its cursor on (below Lambda's 15 min). */
    sliceSeconds: z._default(z.number().check(z.gte(0), z.lte(780)), 600),
    /** A destination just connected to the (one) requested segment: its current members are sent to it. */
    catchUpDestinationId: z.optional(z.string()),
    /**
     * Also check (and repair) the identity graph around every live profile the run reads: its
     * identifiers resolve to it, nothing it merged is live again. A daily schedule asks for it; it costs
     * a read per identifier, so hourly runs do not.
     */
    checkIdentities: z._default(z.boolean(), false),
    /**
     * Evaluate only the profiles changed since the previous scheduled run and those whose answer can
     * change with time by now (the hourly schedule asks for it); falls back to a full run when that is
     * not enough (see `chooseMode`).
     */
    incremental: z._default(z.boolean(), false),
  }),
);

type CatchUp = { segmentId: string; target: DeltaTarget } | null;

interface PlanItem {
  runId: string;
  startedAt: string;
  segmentIds: string[];
  scanSegment: number;
  totalSegments: number;
  pageSize: number;
  sliceSeconds: number;
  catchUp: CatchUp;
  checkIdentities: boolean;
  mode: 'full' | 'incremental';
  /** Incremental runs: changes and due entries from here to `startedAt`. Null for full runs. */
  since: string | null;
}
interface Plan {
  runId: string;
  startedAt: string;
  segmentIds: string[];
  totalSegments: number;
  /** The Map's items: one child execution per scan segment. */
  scanSegments: number[];
  pageSize: number;
  sliceSeconds: number;
  /** Null, not absent: the Map's item selector reads it. */
  catchUp: CatchUp;
  checkIdentities: boolean;
  mode: 'full' | 'incremental';
  modeReason: string;
  since: string | null;
  /** Scheduled runs over every active segment move the watermark; runs for some segments do not. */
  scheduled: boolean;
  /** The definitions evaluated (id → updatedAt), for the watermark. */
  definitions: Record<string, string>;
}
type ItemResult = EvaluationCounts & {
  profiles: number;
  /** Memberships of merged-away profiles the sweep exited (included in `exited`). */
  mergedAwayExited: number;
  mergedAwaySettled: number;
  scanSegment: number;
  /** Runner invocations this scan segment took. */
  slices: number;
  /** Identity graph violations found and repaired (runs that check identities). */
  identityViolations?: number;
  identityRepairs?: number;
  /** Timeline reads (candidates of event conditions only). */
  timelinesRead?: number;
  /** Due index items written (profiles whose answer can change with time alone). */
  dueWritten?: number;
};
interface EvaluateState {
  item: PlanItem;
  cursor?: string;
  result?: ItemResult;
}

type RunnerInput =
  | { step: 'plan'; request?: unknown; executionName: string }
  | { step: 'evaluate'; state: EvaluateState }
  | { step: 'finalize'; plan: Plan; results: ItemResult[] }
  | { step: 'fail'; executionName: string; failure: { Error?: string; Cause?: string } };

async function plan(input: Extract<RunnerInput, { step: 'plan' }>): Promise<Plan> {
  const request = RequestSchema.parse(input.request ?? {});
  const all = await segments.list();
  const wanted = request.segmentIds;
  const chosen = wanted?.length
    ? all.filter((s) => wanted.includes(s.segmentId))
    : all.filter((s) => s.active);
  const totalSegments = scanSegmentsFor(await reader.approximateItemCount(), scanSegments);
  const definitions = Object.fromEntries(chosen.map((s) => [s.segmentId, s.updatedAt]));
  let catchUp: CatchUp = null;
  if (request.catchUpDestinationId && chosen.length === 1) {
    const destination = await destinations.get(chosen[0]!.segmentId, request.catchUpDestinationId);
    if (destination)
      catchUp = {
        segmentId: destination.segmentId,
        target: { destinationId: destination.destinationId, destinationType: destination.type },
      };
  }
  const started = new Date();
  const startedAt = started.toISOString();
  const scheduled = !wanted?.length && !request.catchUpDestinationId;
  const mode = chooseMode({
    incremental: request.incremental,
    ...(scheduled ? {} : { special: 'some segments' }),
    ...(request.checkIdentities ? { special: 'identity check' } : {}),
    watermark: request.incremental && scheduled ? await changeLog.watermark() : undefined,
    definitions,
    now: started,
    fullRunHours,
  });
  await segments.saveRun({
    runId: input.executionName,
    status: 'running',
    startedAt,
    segments: chosen.length,
    errors: [],
  });
  return {
    runId: input.executionName,
    startedAt,
    segmentIds: chosen.map((s) => s.segmentId),
    totalSegments,
    scanSegments: Array.from({ length: totalSegments }, (_, i) => i),
    pageSize: request.pageSize,
    sliceSeconds: request.sliceSeconds,
    catchUp,
    checkIdentities: request.checkIdentities,
    mode: mode.mode,
    modeReason: mode.reason,
    since: mode.mode === 'incremental' ? mode.since : null,
    scheduled,
    definitions,
  };
}

/**
 * One slice of one parallel-scan segment, page by page, against every segment of the run; the state
 * machine calls again with the returned cursor until the scan segment is done.
 */
async function evaluate(state: EvaluateState, context?: Context) {
  const { item } = state;
  const compiled = (await Promise.all(item.segmentIds.map((id) => segments.get(id))))
    .filter((s) => s !== undefined)
    .map(compileSegment);
  const started = Date.now();
  // Never closer than a minute to the Lambda timeout, whatever the slice says.
  const deadline = () =>
    Date.now() - started >= item.sliceSeconds * 1000 ||
    (context !== undefined && context.getRemainingTimeInMillis() < 60_000);
  // One clock per run, so every scan segment judges time windows at the same instant.
  const now = new Date(item.startedAt);
  const horizon = dueHorizon(now.getTime(), fullRunHours);
  const initial: ItemResult = state.result ?? {
    evaluated: 0,
    entered: 0,
    exited: 0,
    updated: 0,
    caughtUp: 0,
    profiles: 0,
    mergedAwayExited: 0,
    mergedAwaySettled: 0,
    scanSegment: item.scanSegment,
    slices: 0,
  };
  const progress = await runSlice(
    { cursor: state.cursor, result: { ...initial, slices: initial.slices + 1 } },
    async (cursor, result) => {
      const page =
        item.mode === 'incremental' ? await changedPage(item, cursor) : await scanPage(item, cursor);
      const next = new Map<string, number>();
      let timelinesRead = 0;
      // The page read each profile's memberships with it: evaluation and the sweep answer from them
      // instead of reading them again (unless items of the previous layout may remain).
      const known = (await segments.partitionsHoldAllMemberships()) ? page.memberships : new Map();
      const screened = screenMembershipWrites(segments, erasureGate(SEGMENT_RUNNER_FUNCTION.id));
      const counts = await evaluateProfiles(
        page.items,
        compiled,
        { store: answeringFrom(known, screened), sink, timeline },
        now,
        item.runId,
        {
          ...(item.catchUp ? { catchUp: item.catchUp } : {}),
          onNextChange: (profileId, at) => {
            if (at <= horizon) next.set(profileId, at);
          },
          onTimelinesRead: (n) => {
            timelinesRead += n;
          },
        },
      );
      // Where each profile must be looked at again if nothing else changes it (time windows).
      const dueWritten = next.size
        ? await changeLog.recordDue(groupByBucket(next), `${item.runId}#${item.scanSegment}#${page.position}`)
        : 0;
      const swept = await sweepMergedAway(
        page.redirects,
        {
          store: {
            ...answeringFrom(known, segments),
            settleMergedAway: (ids, at) => segments.settleMergedAway(ids, at),
          },
          sink,
        },
        now,
        item.runId,
      );
      const identity = { violations: 0, repairs: 0 };
      if (item.checkIdentities) {
        const found = await checker.checkProfiles(page.items, { now });
        identity.violations = found.length;
        if (found.length) {
          identity.repairs = await checker.repair(found, new Date());
          logger.warn('identity graph violations', {
            kinds: [...new Set(found.map((v) => v.kind))],
            found: found.length,
            repaired: identity.repairs,
          });
        }
      }
      return {
        cursor: page.cursor,
        result: {
          ...result,
          profiles: result.profiles + page.items.length,
          evaluated: result.evaluated + counts.evaluated,
          entered: result.entered + counts.entered,
          exited: result.exited + counts.exited + swept.exited,
          updated: result.updated + counts.updated,
          caughtUp: result.caughtUp + counts.caughtUp,
          mergedAwayExited: result.mergedAwayExited + swept.exited,
          mergedAwaySettled: result.mergedAwaySettled + swept.settled,
          identityViolations: (result.identityViolations ?? 0) + identity.violations,
          identityRepairs: (result.identityRepairs ?? 0) + identity.repairs,
          timelinesRead: (result.timelinesRead ?? 0) + timelinesRead,
          dueWritten: (result.dueWritten ?? 0) + dueWritten,
        },
      };
    },
    deadline,
  );
  return { item, ...progress };
}

const hashOf = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

/**
 * Ids this container already evaluated for one child of one run: a person active all hour is in many
 * change log items, and is evaluated once per warm container rather than once per item (a repeat is
 * harmless, only slower).
 */
const seenFor = new Map<string, Set<string>>();
function seenIn(key: string): Set<string> {
  let ids = seenFor.get(key);
  if (!ids) {
    // Locally every child runs in this one process; on AWS a container serves one at a time.
    if (seenFor.size >= 64) seenFor.delete(seenFor.keys().next().value!);
    ids = new Set();
    seenFor.set(key, ids);
  }
  return ids;
}

/** A page of the parallel scan (full runs). */
async function scanPage(item: PlanItem, cursor: string | undefined) {
  const page = await reader.scanStatesAndRedirects({
    segment: item.scanSegment,
    totalSegments: item.totalSegments,
    cursor,
    limit: item.pageSize,
    unlessMarked: MEMBERSHIPS_SETTLED_ATTRIBUTE,
  });
  return { ...page, position: hashOf(cursor ?? 'start') };
}

/**
 * A page of an incremental run: the next change log or due index page's ids that belong to this
 * child's shard, read from the profiles table. The cursor names the source and the key in it.
 */
async function changedPage(item: PlanItem, cursor: string | undefined) {
  const sources = changeLog.sources(item.since!, item.startedAt);
  let at = cursor ? (JSON.parse(cursor) as { source: number; key?: Record<string, unknown> }) : { source: 0 };
  const position = hashOf(cursor ?? 'start');
  const seen = seenIn(`${item.runId}#${item.scanSegment}`);
  const ids = new Set<string>();
  // Pages until some ids are found or a source is done, so a shard with no changes makes few calls.
  while (at.source < sources.length && ids.size === 0) {
    const page = await changeLog.page(
      sources[at.source]!,
      item.scanSegment,
      item.totalSegments,
      at.key,
      // A change log item holds one processor batch (up to 500 ids, of every shard).
      Math.max(1, Math.ceil((item.pageSize * item.totalSegments) / 500)),
    );
    for (const id of page.ids) if (!seen.has(id)) ids.add(id);
    at = page.next ? { source: at.source, key: page.next } : { source: at.source + 1 };
  }
  if (seen.size < 1_000_000) for (const id of ids) seen.add(id);
  const read = await changeLog.read([...ids], MEMBERSHIPS_SETTLED_ATTRIBUTE);
  return {
    ...read,
    position,
    ...(at.source < sources.length ? { cursor: JSON.stringify(at) } : {}),
  };
}

async function finalize(input: Extract<RunnerInput, { step: 'finalize' }>) {
  const finishedAt = new Date();
  const sum = (k: Exclude<keyof ItemResult, 'scanSegment'>) =>
    input.results.reduce((n, r) => n + (r[k] ?? 0), 0);
  const summary = {
    runId: input.plan.runId,
    status: 'succeeded' as const,
    startedAt: input.plan.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - Date.parse(input.plan.startedAt),
    segments: input.plan.segmentIds.length,
    profilesEvaluated: sum('profiles'),
    entered: sum('entered'),
    exited: sum('exited'),
    updated: sum('updated'),
    caughtUp: sum('caughtUp'),
    mergedAwayExited: sum('mergedAwayExited'),
    mergedAwaySettled: sum('mergedAwaySettled'),
    scanSegments: input.plan.totalSegments,
    invocations: sum('slices'),
    mode: input.plan.mode,
    modeReason: input.plan.modeReason,
    timelinesRead: sum('timelinesRead'),
    dueWritten: sum('dueWritten'),
    ...(input.plan.checkIdentities
      ? { identityViolations: sum('identityViolations'), identityRepairs: sum('identityRepairs') }
      : {}),
    errors: [],
  };
  if (input.plan.checkIdentities) {
    metrics.count(METRIC.identityViolations, summary.identityViolations ?? 0);
    metrics.count(METRIC.identityRepairs, summary.identityRepairs ?? 0);
    metrics.flush();
  }
  // Whole-audience exports (S3 snapshot, Pinpoint import, Personalize bulk files) once membership is final.
  const exportFiles = await exportAudiences(
    input.plan.runId,
    input.plan.segmentIds,
    { destinations, segments, reader, senders },
    finishedAt,
    input.plan.catchUp?.target.destinationId,
  );
  Object.assign(summary, { exportFiles });
  if (input.plan.scheduled) {
    // Everything changed or due before the run started is evaluated; the next incremental run
    // starts from here (or from a run still going, whose due entries may not all be written).
    const previous = await changeLog.watermark();
    const running = (await segments.listRuns(50))
      .filter((r) => r.status === 'running' && r.runId !== input.plan.runId)
      .map((r) => r.startedAt);
    await changeLog.advance({
      coveredUntil: coveredUntil(input.plan.startedAt, running, finishedAt),
      definitions: input.plan.definitions,
      ...(input.plan.mode === 'full'
        ? { lastFullAt: input.plan.startedAt }
        : previous?.lastFullAt
          ? { lastFullAt: previous.lastFullAt }
          : {}),
    });
  }
  await segments.saveRun(summary);
  logger.info('segment run finished', summary);
  return summary;
}

/** Keeps the failure on the run's summary (the execution then fails, which raises the alarm). */
async function fail(input: Extract<RunnerInput, { step: 'fail' }>) {
  const previous = await segments.getRun(input.executionName);
  const finishedAt = new Date();
  const startedAt = previous?.startedAt ?? finishedAt.toISOString();
  await segments.saveRun({
    runId: input.executionName,
    segments: previous?.segments ?? 0,
    startedAt,
    status: 'failed',
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - Date.parse(startedAt),
    errors: [
      {
        error: String(input.failure.Error ?? 'Unknown').slice(0, 200),
        cause: String(input.failure.Cause ?? '').slice(0, 1_000),
      },
    ],
  });
  logger.error('segment run failed', { runId: input.executionName, error: input.failure.Error });
}

export async function handler(input: RunnerInput, context?: Context) {
  switch (input.step) {
    case 'fail':
      return fail(input);
    case 'plan':
      return plan(input);
    case 'evaluate':
      return evaluate(input.state, context);
    case 'finalize':
      return finalize(input);
  }
}
