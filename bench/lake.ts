/**
 * Lake writer throughput into s3rver: the real handler on Kinesis-shaped batches.
 *   npm run bench:lake -- [events=100000] [batchSize=10000]
 */
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { LAKE_BUCKET } from '../resources/buckets.js';
import { fmt, withLocalCdp } from './support.js';

const total = Number(process.argv[2] ?? 100_000);
const batchSize = Number(process.argv[3] ?? 10_000);

await withLocalCdp(async (cdp) => {
  const { handler } = (await import('../lambdas/lake/handler.js')) as {
    handler: (e: KinesisStreamEvent) => Promise<{ batchItemFailures: unknown[] }>;
  };
  const receivedAt = new Date().toISOString();
  const batches: KinesisStreamEvent[] = [];
  for (let start = 0; start < total; start += batchSize) {
    const Records = [];
    for (let i = start; i < Math.min(total, start + batchSize); i++) {
      const body = {
        type: 'track',
        event: 'Product Viewed',
        userId: `user-${i % 10_000}`,
        messageId: `bench-${i}`,
        properties: { sku: `sku-${i % 500}`, price: 19.99 },
        context: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0', page: { path: '/p' } },
        sourceId: cdp.sourceId,
        receivedAt,
        timestamp: receivedAt,
      };
      const seq = String(1e20 + i);
      Records.push({
        eventID: `shardId-000000000000:${seq}`,
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/bench',
        kinesis: {
          sequenceNumber: seq,
          partitionKey: body.userId,
          data: Buffer.from(JSON.stringify(body)).toString('base64'),
        },
      });
    }
    batches.push({ Records } as unknown as KinesisStreamEvent);
  }
  console.log(`lake bench: ${fmt(total)} events in batches of ${fmt(batchSize)} into s3rver`);
  const t0 = performance.now();
  for (const b of batches) {
    const r = await handler(b);
    if (r.batchItemFailures.length) throw new Error('lake write failed');
  }
  const seconds = (performance.now() - t0) / 1000;

  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'raw/' }));
  const sizes = await Promise.all(
    (listed.Contents ?? []).map(
      async (o) =>
        (await s3.send(new HeadObjectCommand({ Bucket: LAKE_BUCKET.localName, Key: o.Key! })))
          .ContentLength ?? 0,
    ),
  );
  s3.destroy();
  const avg = sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length);
  console.log(`written:        ${fmt(total / seconds)} events/s (${fmt(seconds, 2)} s; goal >= 5,000)`);
  console.log(
    `objects:        ${sizes.length}, average ${fmt(avg / 1024, 1)} KiB gzip (${fmt(avg / batchSize, 1)} bytes/event)`,
  );
});
