import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { erasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import { isPermanentStoreError } from '../../adapters/dynamodb/errors.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { decodeRecord, plainRecordBytes } from '../../core/events/record-codec.js';
import { CollectedEventParser } from '../../core/events/schema.js';
import { DEFAULT_IDENTIFIER_TRAITS, isDepthIssue, storageIssues } from '../../core/events/storage-limits.js';
import {
  DEFAULT_IDENTITY_CONFIG,
  type IdentityConfig,
  identityConfigFrom,
} from '../../core/identity/identifiers.js';
import type { QuarantineRecord } from '../../core/lake/quarantine.js';
import { batchName } from '../../core/process/batch-name.js';
import { processIsolated } from '../../core/process/isolate.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import type { BatchOrigin } from '../../core/process/pipeline.js';
import {
  ENV,
  loadConfig,
  nonEmptyString,
  optional,
  positiveInt,
  readWith,
  withDefault,
} from '../../resources/env.js';
import { PROFILE_PROCESSOR_FUNCTION } from '../../resources/functions/process.js';
import { METRIC } from '../../resources/metrics.js';
import { isReplayStep } from '../replay/step.js';
import { loadLakeWriters } from './lake-writers-loader.js';
import { profileChangeListeners } from './listeners.js';

const config = loadConfig({
  [ENV.profilesTable]: nonEmptyString,
  [ENV.timelineTable]: optional(nonEmptyString),
  [ENV.lakeBucket]: nonEmptyString,
  [ENV.timelineRetentionDays]: positiveInt,
  [ENV.dedupeWindowHours]: optional(positiveInt),
  // Unset, the defaults as they are; set, validated by the identity settings' schema (zod) here.
  [ENV.identityConfig]: withDefault(
    readWith(identityConfigFrom, 'must be JSON matching the identity settings'),
    DEFAULT_IDENTITY_CONFIG,
  ),
});
const identityConfig: IdentityConfig = config[ENV.identityConfig];
const identifierTraits = [...DEFAULT_IDENTIFIER_TRAITS, ...identityConfig.externalIdTypes];
const logger = createLogger('profile-processor');
const metrics = createMetrics('profile-processor');
const store = new DynamoProfileStore(dynamoDbDocumentClient(), config[ENV.profilesTable], {
  timelineRetentionDays: config[ENV.timelineRetentionDays],
  dedupeWindowHours: config[ENV.dedupeWindowHours] ?? 24,
  ...(config[ENV.timelineTable] ? { timelineTable: config[ENV.timelineTable] } : {}),
});
const lakeBucket = config[ENV.lakeBucket];
/** The quarantine, through the lake writers the first batch loads. */
const quarantine = {
  write: async (records: readonly QuarantineRecord[], now?: Date) =>
    (await loadLakeWriters(lakeBucket)).quarantine.write(records, now),
};

/**
 * Event normalisation (user-agent parsing with bowser, phone numbers with libphonenumber-js's metadata)
 * is loaded by the first batch, not at cold start; esbuild keeps the dynamic import lazy in the bundle.
 */
type Normalize = typeof import('../../core/process/normalize.js').normalizeEvent;
let normalization: Promise<Normalize> | undefined;
const loadNormalization = (): Promise<Normalize> =>
  (normalization ??= import('../../core/process/normalize.js').then((m) => m.normalizeEvent));

type Parsed =
  | { ok: true; event: CanonicalEvent }
  | { ok: false; reason: string; details: string; messageId?: string; sourceId?: string };

function parseRecord(data: Buffer, normalizeEvent: Normalize): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(decodeRecord(data));
  } catch {
    return { ok: false, reason: 'invalid_json', details: 'The record is not valid JSON' };
  }
  const ids = json as { messageId?: unknown; sourceId?: unknown };
  const origin = {
    ...(typeof ids.messageId === 'string' ? { messageId: ids.messageId } : {}),
    ...(typeof ids.sourceId === 'string' ? { sourceId: ids.sourceId } : {}),
  };
  // What the store can never hold (the collector refuses it; records from before that check, or put
  // on the stream another way, are caught here) is set aside before it can fail the batch. Nesting
  // first: the schema's own parse must never meet a value deep enough to overflow the stack.
  const limits = storageIssues(json, { identifierTraits });
  const storageLimits = () => ({
    ok: false as const,
    reason: 'storage_limits',
    details: limits.map((i) => `${i.field || '(root)'}: ${i.rule}`).join('; '),
    ...origin,
  });
  if (limits.some(isDepthIssue)) return storageLimits();
  const parsed = CollectedEventParser.safeParse(json);
  if (!parsed.success) {
    const details = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    return { ok: false, reason: 'schema_validation', details, ...origin };
  }
  if (limits.length) return storageLimits();
  const event = normalizeEvent(parsed.data, identityConfig);
  if (event.identities.length === 0)
    return {
      ok: false,
      reason: 'no_usable_identifier',
      details: 'Every identifier is empty or on the block list',
      ...origin,
    };
  return { ok: true, event };
}

/**
 * The lane is the shard (the event source mapping runs one batch per shard at a time); the batch is
 * named by its first record, which is where Lambda delivers a failed batch again from, because this
 * handler reports failures from the first record and the mapping does not bisect. The name is a short
 * hash of that record's sequence number (56 digits): every profile the batch touches stores it.
 */
function batchOrigin(event: KinesisStreamEvent, offsets: number[]): BatchOrigin {
  const first = event.Records[0];
  const shard = first?.eventID?.split(':')[0] ?? 'shard';
  return { lane: shard, batch: batchName(first?.kinesis.sequenceNumber ?? ''), offsets };
}

/**
 * Kinesis consumer: validate, normalise and enrich each record, then resolve identities and update
 * profiles for the whole batch. Records that can never be processed are quarantined with the reason
 * (they do not block the shard); a transient failure retries the batch, which is idempotent.
 */
export async function handler(
  event: KinesisStreamEvent,
  context?: Context,
): Promise<KinesisStreamBatchResponse> {
  // Started now, evaluated while the batch waits on DynamoDB; awaited (and retried if this load
  // failed) by the lake listener and the quarantine.
  loadLakeWriters(lakeBucket).catch(() => undefined);
  // Replay steps (the replay state machine) run here too: the same parser, pipeline and settings.
  const normalizeEvent = await loadNormalization();
  const parse = (data: Buffer) => parseRecord(data, normalizeEvent);
  if (isReplayStep(event)) {
    const pipeline = {
      graph: store,
      dedupe: store,
      config: identityConfig,
      listeners: profileChangeListeners,
    };
    const parts = { parse, pipeline, isPermanent: isPermanentStoreError, quarantine };
    // Loaded by the first replay step only (its S3 reader, store and engine): live batches never need it.
    const { replayStep } = await import('../replay/runner.js');
    return (await replayStep(event, parts, context)) as KinesisStreamBatchResponse;
  }
  const now = new Date();
  const events: CanonicalEvent[] = [];
  const records: KinesisStreamRecord[] = [];
  const offsets: number[] = [];
  const quarantined: QuarantineRecord[] = [];
  const setAside = (record: KinesisStreamRecord, reason: string, details: string, ids: Origin) =>
    quarantined.push({
      stage: 'process',
      reason,
      details,
      ...ids,
      quarantinedAt: now.toISOString(),
      origin: `${record.eventSourceARN ?? ''}/${record.kinesis.sequenceNumber}`,
      // Decompressed: quarantine is read by people, Athena, replays and erasures.
      raw: plainRecordBytes(Buffer.from(record.kinesis.data, 'base64')).toString('base64'),
    });
  // Erasure: records of people whose deletion was accepted, and barrier records, go no further.
  const erasure = await erasureGate(PROFILE_PROCESSOR_FUNCTION.id).screen(event.Records);
  const kept = new Set(erasure.keep);
  for (const [offset, record] of event.Records.entries()) {
    if (!kept.has(record)) continue;
    const parsed = parse(Buffer.from(record.kinesis.data, 'base64'));
    if (parsed.ok) {
      events.push(parsed.event);
      records.push(record);
      offsets.push(offset);
    } else
      setAside(record, parsed.reason, parsed.details, {
        ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
        ...(parsed.sourceId ? { sourceId: parsed.sourceId } : {}),
      });
  }
  try {
    // One record the store can never hold is set aside alone; its neighbours are committed.
    const result = await processIsolated(
      events,
      { graph: store, dedupe: store, config: identityConfig, listeners: profileChangeListeners },
      now,
      batchOrigin(event, offsets),
      isPermanentStoreError,
    );
    for (const { index, error } of result.rejected) {
      const e = events[index]!;
      setAside(records[index]!, 'cannot_store', `${error.name}: ${error.message}`.slice(0, 500), {
        messageId: e.messageId,
        sourceId: e.sourceId,
      });
    }
    if (quarantined.length) {
      const key = await quarantine.write(quarantined, now);
      logger.warn('records quarantined', {
        count: quarantined.length,
        key,
        reasons: [...new Set(quarantined.map((q) => q.reason))],
      });
    }
    logger.info('batch processed', {
      records: event.Records.length,
      applied: result.applied,
      duplicates: result.duplicates,
      merges: result.merges,
      blockedMerges: result.blockedMerges,
      attempts: result.attempts,
      quarantined: quarantined.length,
    });
    // Counted once the batch is done, so a retried batch is not counted twice.
    metrics.count(METRIC.eventsProcessed, result.applied);
    metrics.count(METRIC.duplicatesSkipped, result.duplicates);
    metrics.count(METRIC.profilesMerged, result.merges);
    metrics.count(METRIC.mergesBlocked, result.blockedMerges);
    metrics.count(METRIC.recordsQuarantined, quarantined.length);
    metrics.flush();
    await erasureGate(PROFILE_PROCESSOR_FUNCTION.id).passBarriers(
      batchOrigin(event, []).lane,
      erasure.barriers,
    );
    return { batchItemFailures: [] };
  } catch (err) {
    // Transient (throttling, network, a race lost too often): the batch is delivered again from its
    // first record, under the same name; profiles recognise what they already hold.
    logger.error('batch failed; it will be retried', {
      errorName: (err as Error).name,
      records: event.Records.length,
    });
    const first = event.Records[0];
    return { batchItemFailures: first ? [{ itemIdentifier: first.kinesis.sequenceNumber }] : [] };
  }
}

type Origin = Pick<QuarantineRecord, 'messageId' | 'sourceId'>;
