import { z } from 'zod';
import { exportAudiences } from '../../adapters/activate/audience-export.js';
import { sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient, s3Client } from '../../adapters/aws/clients.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { MEMBERSHIPS_SETTLED_ATTRIBUTE } from '../../adapters/dynamodb/segment-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { deltaSinkFromEnv } from '../../adapters/segments/delta-sink.js';
import {
  compileSegment,
  type EvaluationCounts,
  evaluateProfiles,
  sweepMergedAway,
} from '../../core/segments/engine.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { segmentationDeps } from './deps.js';

const { reader, segments, timeline } = segmentationDeps();
const sink = deltaSinkFromEnv();
const logger = createLogger('segment-runner');
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

interface PlanItem {
  runId: string;
  startedAt: string;
  segmentIds: string[];
  scanSegment: number;
  totalSegments: number;
}
interface Plan {
  runId: string;
  startedAt: string;
  segmentIds: string[];
  items: PlanItem[];
}
type ItemResult = EvaluationCounts & {
  profiles: number;
  /** Memberships of merged-away profiles the sweep exited (included in `exited`). */
  mergedAwayExited: number;
  mergedAwaySettled: number;
  scanSegment: number;
};

type RunnerInput =
  | { step: 'plan'; request?: { segmentIds?: string[] }; executionName: string }
  | { step: 'evaluate'; item: PlanItem }
  | { step: 'finalize'; plan: Plan; results: ItemResult[] };

async function plan(input: Extract<RunnerInput, { step: 'plan' }>): Promise<Plan> {
  const all = await segments.list();
  const wanted = input.request?.segmentIds;
  const chosen = wanted?.length
    ? all.filter((s) => wanted.includes(s.segmentId))
    : all.filter((s) => s.active);
  const startedAt = new Date().toISOString();
  const segmentIds = chosen.map((s) => s.segmentId);
  const runId = input.executionName;
  return {
    runId,
    startedAt,
    segmentIds,
    items: Array.from({ length: scanSegments }, (_, i) => ({
      runId,
      startedAt,
      segmentIds,
      scanSegment: i,
      totalSegments: scanSegments,
    })),
  };
}

/** One parallel-scan segment of the profiles, page by page, against every segment of the run. */
async function evaluate(item: PlanItem): Promise<ItemResult> {
  const compiled = (await Promise.all(item.segmentIds.map((id) => segments.get(id))))
    .filter((s) => s !== undefined)
    .map(compileSegment);
  const result: ItemResult = {
    evaluated: 0,
    entered: 0,
    exited: 0,
    updated: 0,
    profiles: 0,
    mergedAwayExited: 0,
    mergedAwaySettled: 0,
    scanSegment: item.scanSegment,
  };
  // One clock per run, so every scan segment judges time windows at the same instant.
  const now = new Date(item.startedAt);
  let cursor: string | undefined;
  do {
    const page = await reader.scanStatesAndRedirects({
      segment: item.scanSegment,
      totalSegments: item.totalSegments,
      cursor,
      limit: 500,
      unlessMarked: MEMBERSHIPS_SETTLED_ATTRIBUTE,
    });
    const counts = await evaluateProfiles(
      page.items,
      compiled,
      { store: segments, sink, timeline },
      now,
      item.runId,
    );
    const swept = await sweepMergedAway(page.redirects, { store: segments, sink }, now, item.runId);
    result.profiles += page.items.length;
    result.evaluated += counts.evaluated;
    result.entered += counts.entered;
    result.exited += counts.exited + swept.exited;
    result.updated += counts.updated;
    result.mergedAwayExited += swept.exited;
    result.mergedAwaySettled += swept.settled;
    cursor = page.cursor;
  } while (cursor);
  return result;
}

async function finalize(input: Extract<RunnerInput, { step: 'finalize' }>) {
  const finishedAt = new Date();
  const sum = (k: Exclude<keyof ItemResult, 'scanSegment'>) => input.results.reduce((n, r) => n + r[k], 0);
  const summary = {
    runId: input.plan.runId,
    startedAt: input.plan.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - Date.parse(input.plan.startedAt),
    segments: input.plan.segmentIds.length,
    profilesEvaluated: sum('profiles'),
    entered: sum('entered'),
    exited: sum('exited'),
    updated: sum('updated'),
    mergedAwayExited: sum('mergedAwayExited'),
    mergedAwaySettled: sum('mergedAwaySettled'),
    errors: [],
  };
  // Whole-audience exports (S3 snapshot, Pinpoint import, Personalize bulk files) once membership is final.
  const exportFiles = await exportAudiences(input.plan.runId, input.plan.segmentIds, {
    destinations,
    segments,
    reader,
    senders,
  });
  Object.assign(summary, { exportFiles });
  await segments.saveRun(summary);
  logger.info('segment run finished', summary);
  return summary;
}

export async function handler(input: RunnerInput) {
  switch (input.step) {
    case 'plan':
      return plan(input);
    case 'evaluate':
      return evaluate(input.item);
    case 'finalize':
      return finalize(input);
  }
}
