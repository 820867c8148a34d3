import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { exportAudiences } from '../../adapters/activate/audience-export.js';
import { sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient, s3Client } from '../../adapters/aws/clients.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { MEMBERSHIPS_SETTLED_ATTRIBUTE } from '../../adapters/dynamodb/segment-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { deltaSinkFromEnv } from '../../adapters/segments/delta-sink.js';
import type { DeltaTarget } from '../../core/segments/delta.js';
import {
  compileSegment,
  type EvaluationCounts,
  evaluateProfiles,
  sweepMergedAway,
} from '../../core/segments/engine.js';
import { runSlice, scanSegmentsFor } from '../../core/segments/scan-plan.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { METRIC } from '../../resources/metrics.js';
import { segmentationDeps } from './deps.js';

const { reader, segments, timeline, checker } = segmentationDeps();
const sink = deltaSinkFromEnv();
const logger = createLogger('segment-runner');
const metrics = createMetrics('segment-runner');
const destinations = new DestinationStore(
  dynamoDbDocumentClient(),
  loadConfig(z.object({ [ENV.controlTable]: requiredString() }))[ENV.controlTable],
);
const senders = sendersFromEnv(process.env, s3Client());
const scanSegments = Number(
  loadConfig(z.object({ [ENV.segmentScanSegments]: z.string().regex(/^\d+$/).optional() }))[
    ENV.segmentScanSegments
  ] ?? 4,
);

const RequestSchema = z.object({
  segmentIds: z.array(z.string()).optional(),
  /** Profiles read per scan page. */
  pageSize: z.number().int().min(1).max(1_000).default(500),
  /** How long one runner invocation evaluates before it hands its cursor on (below Lambda's 15 min). */
  sliceSeconds: z.number().min(0).max(780).default(600),
  /** A destination just connected to the (one) requested segment: its current members are sent to it. */
  catchUpDestinationId: z.string().optional(),
  /**
   * Also check (and repair) the identity graph around every live profile the run reads: its
   * identifiers resolve to it, nothing it merged is live again. A daily schedule asks for it; it costs
   * a read per identifier, so hourly runs do not.
   */
  checkIdentities: z.boolean().default(false),
});

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
  let catchUp: CatchUp = null;
  if (request.catchUpDestinationId && chosen.length === 1) {
    const destination = await destinations.get(chosen[0]!.segmentId, request.catchUpDestinationId);
    if (destination)
      catchUp = {
        segmentId: destination.segmentId,
        target: { destinationId: destination.destinationId, destinationType: destination.type },
      };
  }
  const startedAt = new Date().toISOString();
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
      const page = await reader.scanStatesAndRedirects({
        segment: item.scanSegment,
        totalSegments: item.totalSegments,
        cursor,
        limit: item.pageSize,
        unlessMarked: MEMBERSHIPS_SETTLED_ATTRIBUTE,
      });
      const counts = await evaluateProfiles(
        page.items,
        compiled,
        { store: segments, sink, timeline },
        now,
        item.runId,
        item.catchUp ? { catchUp: item.catchUp } : {},
      );
      const swept = await sweepMergedAway(page.redirects, { store: segments, sink }, now, item.runId);
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
        },
      };
    },
    deadline,
  );
  return { item, ...progress };
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
