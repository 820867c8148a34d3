import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import * as z from 'zod';
import { s3Client } from '../../adapters/aws/clients.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { QuarantineWriter } from '../../adapters/s3/quarantine-writer.js';
import { type RawPartition, rawObjectKey, rawPartition } from '../../core/lake/layout.js';
import type { QuarantineRecord } from '../../core/lake/quarantine.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { METRIC } from '../../resources/metrics.js';

const config = loadConfig(z.object({ [ENV.lakeBucket]: requiredString() }));
const logger = createLogger('lake-writer');
const metrics = createMetrics('lake-writer');
const s3 = s3Client();
const quarantine = new QuarantineWriter(s3, config[ENV.lakeBucket]);

const Envelope = z.looseObject({
  sourceId: z.string().min(1),
  receivedAt: z.string().refine((v) => !Number.isNaN(Date.parse(v))),
});

/**
 * Writes every accepted event, exactly as collected, to the raw zone: one gzip JSON Lines object per
 * partition per batch, named after the batch's stream positions so a retry overwrites its own objects.
 */
export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  const now = new Date();
  const groups = new Map<string, { partition: RawPartition; lines: string[]; first: string; last: string }>();
  const quarantined: QuarantineRecord[] = [];
  const shardId = event.Records[0]?.eventID.split(':')[0] ?? 'shard';
  for (const record of event.Records) {
    const text = Buffer.from(record.kinesis.data, 'base64').toString('utf8');
    let parsed: z.infer<typeof Envelope> | undefined;
    try {
      const result = Envelope.safeParse(JSON.parse(text));
      parsed = result.success ? result.data : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed) {
      quarantined.push({
        stage: 'lake',
        reason: 'not_a_collected_event',
        details: 'The record is not JSON with sourceId and receivedAt',
        quarantinedAt: now.toISOString(),
        origin: `${record.eventSourceARN ?? ''}/${record.kinesis.sequenceNumber}`,
        raw: record.kinesis.data,
      });
      continue;
    }
    const partition = rawPartition(parsed.sourceId, parsed.receivedAt);
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
    metrics.count(METRIC.lakeEventsWritten, event.Records.length - quarantined.length);
    metrics.count(METRIC.lakeObjectsWritten, groups.size);
    metrics.count(METRIC.recordsQuarantined, quarantined.length);
    metrics.flush();
    return { batchItemFailures: [] };
  } catch (err) {
    logger.error('lake write failed; the batch will be retried', { errorName: (err as Error).name });
    const first = event.Records[0];
    return { batchItemFailures: first ? [{ itemIdentifier: first.kinesis.sequenceNumber }] : [] };
  }
}
