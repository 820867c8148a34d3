import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { erasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { QuarantineWriter } from '../../adapters/s3/quarantine-writer.js';
import { decodeRecord, plainRecordBytes } from '../../core/events/record-codec.js';
import { type RawPartition, rawObjectKey, rawPartition } from '../../core/lake/layout.js';
import type { QuarantineRecord } from '../../core/lake/quarantine.js';
import { lazySchema } from '../../core/shared/lazy-schema.js';
import '../../core/shared/zod.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { LAKE_WRITER_FUNCTION } from '../../resources/functions/lake.js';
import { METRIC } from '../../resources/metrics.js';

const config = loadConfig({ [ENV.lakeBucket]: nonEmptyString });
const logger = createLogger('lake-writer');
const metrics = createMetrics('lake-writer');
const s3 = s3Client();
const quarantine = new QuarantineWriter(s3, config[ENV.lakeBucket]);

const Envelope = lazySchema(() =>
  z.looseObject({
    sourceId: z.string().check(z.minLength(1)),
    receivedAt: z.string().check(z.refine((v) => !Number.isNaN(Date.parse(v)))),
  }),
);

/** Longest `source_id=` partition value (URL-encoded): S3 keys are at most 1,024 bytes. */
const MAX_ENCODED_SOURCE_ID = 256;

/**
 * The raw partition of a record, or why it has none: a source id that does not fit a key, or an
 * arrival time outside the four-digit years the `dt=YYYY-MM-DD` partitions (and Athena's projection) use.
 */
function partitionOf(sourceId: string, receivedAt: string): RawPartition | string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(sourceId);
  } catch {
    return 'sourceId is not well-formed Unicode';
  }
  if (encoded.length > MAX_ENCODED_SOURCE_ID)
    return `sourceId is longer than ${MAX_ENCODED_SOURCE_ID} characters URL-encoded`;
  const year = new Date(receivedAt).getUTCFullYear();
  if (year < 2000 || year > 9999) return 'receivedAt must lie between the years 2000 and 9999';
  return rawPartition(sourceId, receivedAt);
}

/**
 * Writes every accepted event, exactly as collected, to the raw zone: one gzip JSON Lines object per
 * partition per batch, named after the batch's stream positions so a retry overwrites its own objects.
 */
export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  const now = new Date();
  const groups = new Map<string, { partition: RawPartition; lines: string[]; first: string; last: string }>();
  const quarantined: QuarantineRecord[] = [];
  const shardId = event.Records[0]?.eventID.split(':')[0] ?? 'shard';
  const setAside = (record: KinesisStreamEvent['Records'][number], reason: string, details: string) =>
    quarantined.push({
      stage: 'lake',
      reason,
      details,
      quarantinedAt: now.toISOString(),
      origin: `${record.eventSourceARN ?? ''}/${record.kinesis.sequenceNumber}`,
      // Decompressed: quarantine is read by people, Athena, replays and erasures.
      raw: plainRecordBytes(Buffer.from(record.kinesis.data, 'base64')).toString('base64'),
    });
  // Erasure: records of people whose deletion was accepted, and barrier records, are not written.
  const erasure = await erasureGate(LAKE_WRITER_FUNCTION.id).screen(event.Records);
  for (const record of erasure.keep) {
    // One record that can never be written goes to quarantine with its bytes; the rest of the batch
    // commits. Only S3 failures (transient) make the batch retry.
    let text = '';
    let parsed: z.infer<typeof Envelope> | undefined;
    try {
      text = decodeRecord(Buffer.from(record.kinesis.data, 'base64'));
      const result = Envelope.safeParse(JSON.parse(text));
      parsed = result.success ? result.data : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed) {
      setAside(record, 'not_a_collected_event', 'The record is not JSON with sourceId and receivedAt');
      continue;
    }
    const partition = partitionOf(parsed.sourceId, parsed.receivedAt);
    if (typeof partition === 'string') {
      setAside(record, 'unpartitionable', partition);
      continue;
    }
    const id = `${partition.sourceId}/${partition.dt}/${partition.hr}`;
    const group = groups.get(id) ?? { partition, lines: [], first: record.kinesis.sequenceNumber, last: '' };
    // The line is the record's own bytes: unmodified, as the collector wrote it.
    group.lines.push(text);
    group.last = record.kinesis.sequenceNumber;
    groups.set(id, group);
  }
  try {
    await Promise.all(
      [...groups.values()].map((g) =>
        s3.send(
          new PutObjectCommand({
            Bucket: config[ENV.lakeBucket],
            Key: rawObjectKey(g.partition, shardId, g.first, g.last),
            Body: gzipSync(`${g.lines.join('\n')}\n`),
            ContentType: 'application/x-ndjson',
            ContentEncoding: 'gzip',
          }),
        ),
      ),
    );
    if (quarantined.length) await quarantine.write(quarantined, now);
    logger.info('batch written', {
      records: event.Records.length,
      objects: groups.size,
      quarantined: quarantined.length,
    });
    metrics.count(METRIC.lakeEventsWritten, erasure.keep.length - quarantined.length);
    metrics.count(METRIC.lakeObjectsWritten, groups.size);
    metrics.count(METRIC.recordsQuarantined, quarantined.length);
    metrics.flush();
    await erasureGate(LAKE_WRITER_FUNCTION.id).passBarriers(shardId, erasure.barriers);
    return { batchItemFailures: [] };
  } catch (err) {
    logger.error('lake write failed; the batch will be retried', { errorName: (err as Error).name });
    const first = event.Records[0];
    return { batchItemFailures: first ? [{ itemIdentifier: first.kinesis.sequenceNumber }] : [] };
  }
}
