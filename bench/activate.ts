/**
 * Activation throughput: membership deltas through the local queue and the activation worker to a
 * local webhook receiver, as they flow in production (queue -> worker -> destination).
 *   npm run bench:activate -- [deltas=100000]
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbDocumentClient } from '../adapters/aws/clients.js';
import { DestinationStore } from '../adapters/dynamodb/destination-store.js';
import { SegmentStore } from '../adapters/dynamodb/segment-store.js';
import { FileDeltaSink } from '../adapters/segments/delta-sink.js';
import { DestinationInputSchema } from '../core/activate/destinations.js';
import type { MembershipDelta } from '../core/segments/delta.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../resources/tables.js';
import { fmt, percentile, withLocalCdp } from './support.js';

const total = Number(process.argv[2] ?? 100_000);

await withLocalCdp(async (cdp) => {
  const latencies: number[] = [];
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { events: Array<{ at: string }> };
      for (const e of body.events) latencies.push(now - Date.parse(e.at));
      received += body.events.length;
      res.writeHead(200).end();
      if (received >= total) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;

  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: cdp.endpoints.dynamodb,
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  const ddb = dynamoDbDocumentClient(client);
  const segment = await new SegmentStore(ddb, CONTROL_TABLE.localName, PROFILES_TABLE.localName).create({
    name: 'Bench',
    condition: { trait: 'plan', op: 'exists' },
    active: true,
  });
  await new DestinationStore(ddb, CONTROL_TABLE.localName).create(
    segment.segmentId,
    DestinationInputSchema.parse({
      type: 'webhook',
      settings: { url, batchSize: 100, rateLimitPerSecond: 1000 },
    }),
  );

  console.log(
    `activation bench: ${fmt(total)} deltas -> local queue -> activation worker -> webhook (batches of 100)`,
  );
  const sink = new FileDeltaSink(join(cdp.dataDir, 'queues', 'deltas.jsonl'));
  const t0 = performance.now();
  for (let i = 0; i < total; i += 1000) {
    const at = new Date().toISOString();
    const deltas: MembershipDelta[] = Array.from({ length: Math.min(1000, total - i) }, (_, k) => ({
      deltaId: `bench-${i + k}`,
      segmentId: segment.segmentId,
      profileId: `p_${i + k}`,
      kind: 'entered',
      at,
      source: 'bench',
      traits: { plan: 'pro', email: `person${i + k}@example.com` },
      identities: [{ type: 'user_id', value: `u${i + k}` }],
      consent: { marketing: true },
    }));
    await sink.publish(deltas);
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    `delivered:       ${fmt(received)} deltas in ${fmt(seconds, 1)} s = ${fmt(received / seconds)} deltas/s`,
  );
  console.log(
    `latency:         p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(percentile(latencies, 99))} ms (queued -> received)`,
  );
  server.close();
  client.destroy();
});
