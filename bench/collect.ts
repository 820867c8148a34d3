/**
 * Collector throughput against the local runtime, compared with raw PutRecords to kinesis-local.
 *   npm run bench:collect -- [seconds=10] [concurrency=8]
 */
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { partitionKeyOf, withServerFields } from '../core/collect/ingest.js';
import type { Message } from '../core/events/schema.js';
import { EVENTS_STREAM } from '../resources/streams.js';
import { fmt, percentile, runFor, withLocalCdp } from './support.js';

const seconds = Number(process.argv[2] ?? 10);
const concurrency = Number(process.argv[3] ?? 8);
const BATCH = 100;

let seq = 0;
function batch(): Message[] {
  return Array.from({ length: BATCH }, () => {
    const n = seq++;
    return {
      type: 'track',
      messageId: `bench-${n}`,
      userId: `user-${n % 10_000}`,
      event: 'Product Viewed',
      timestamp: new Date().toISOString(),
      properties: { sku: `sku-${n % 500}`, price: 19.99, currency: 'EUR' },
      context: {
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0',
        ip: '203.0.113.9',
        page: { path: '/p' },
      },
    } as Message;
  });
}

const { sourceId, auth } = await withLocalCdp(
  async (cdp) => {
    console.log(`collector bench: ${seconds}s, ${concurrency} concurrent requests, batches of ${BATCH}`);
    const auth = `Basic ${Buffer.from(`${cdp.writeKey}:`).toString('base64')}`;
    const kinesis = new KinesisClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.kinesis,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new NodeHttpHandler(),
    });
    const viaApi = async () => {
      const res = await fetch(`${cdp.apiUrl}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ batch: batch() }),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    };
    const receivedAt = new Date();
    const direct = async () => {
      const records = batch().map((m) => ({
        PartitionKey: partitionKeyOf(m),
        Data: Buffer.from(JSON.stringify(withServerFields(m, cdp.sourceId, receivedAt))),
      }));
      const out = await kinesis.send(
        new PutRecordsCommand({ StreamName: EVENTS_STREAM.localName, Records: records }),
      );
      if (out.FailedRecordCount) throw new Error(`${out.FailedRecordCount} raw records failed`);
    };
    // Alternate the two in short rounds so background work (stream consumers) weighs on both alike.
    const api = { latencies: [] as number[], elapsedMs: 0 };
    const raw = { latencies: [] as number[], elapsedMs: 0 };
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      // kinesis-local slows down as its stream grows, so the order alternates from round to round.
      const phases = [
        [raw, direct],
        [api, viaApi],
      ] as const;
      for (const [target, worker] of round % 2 ? [...phases].reverse() : phases) {
        const r = await runFor((seconds * 1000) / rounds, concurrency, worker);
        target.latencies.push(...r.latencies);
        target.elapsedMs += r.elapsedMs;
      }
    }
    kinesis.destroy();
    api.latencies.sort((x, y) => x - y);
    const apiRate = (api.latencies.length * BATCH) / (api.elapsedMs / 1000);
    const rawRate = (raw.latencies.length * BATCH) / (raw.elapsedMs / 1000);

    console.log(`API accepted:        ${fmt(apiRate)} events/s (${fmt(api.latencies.length)} batches)`);
    console.log(
      `batch latency:       p50 ${fmt(percentile(api.latencies, 50), 1)} ms, p99 ${fmt(percentile(api.latencies, 99), 1)} ms`,
    );
    console.log(`raw PutRecords:      ${fmt(rawRate)} events/s (same records, straight to kinesis-local)`);
    console.log(`ratio API/raw:       ${fmt(apiRate / rawRate, 2)} (goal >= 0.8)`);
    return { sourceId: cdp.sourceId, auth };
    // Stream consumers off: this measures the collector against raw writes, not downstream processing.
  },
  { streamConsumers: false },
);

// After the local CDP has stopped, so the stubs below cannot reach its stream consumers.
// Handler CPU per event with the stream and key lookup stubbed: validation + serialization only.
mockClient(KinesisClient).on(PutRecordsCommand).resolves({ FailedRecordCount: 0, Records: [] });
mockClient(DynamoDBDocumentClient)
  .on(GetCommand)
  .resolves({ Item: { sourceId: sourceId } });
const { handler } = (await import('../lambdas/collect/handler.js')) as {
  handler: (e: APIGatewayProxyEventV2) => Promise<{ statusCode: number }>;
};
const events = Array.from({ length: 200 }, () => ({
  rawPath: '/v1/batch',
  headers: { 'content-type': 'application/json', authorization: auth },
  body: JSON.stringify({ batch: batch() }),
  isBase64Encoded: false,
})) as unknown as APIGatewayProxyEventV2[];
for (const e of events.slice(0, 20)) await handler(e); // warm up
const cpu = process.cpuUsage();
for (const e of events) {
  const res = await handler(e);
  if (res.statusCode !== 200) throw new Error(`handler answered ${res.statusCode}`);
}
const used = process.cpuUsage(cpu);
const cpuPerEventUs = (used.user + used.system) / (events.length * BATCH);

console.log(`handler CPU/event:   ${fmt(cpuPerEventUs, 1)} µs (stream stubbed; goal < 50 µs)`);
