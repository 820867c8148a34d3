/**
 * Activation: membership deltas through the local webhook queue and the activation worker to a local
 * webhook receiver, as they flow in production (sink -> queue per destination type -> worker ->
 * destination). Two phases:
 *   1. throughput: the whole backlog is enqueued at once and drained;
 *   2. latency: deltas enqueued at a steady 50% of that throughput for a bounded time, timed from
 *      enqueue to receipt at the webhook.
 *   npm run bench:activate -- [deltas=100000] [steadySeconds=20]
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbDocumentClient, meterClients } from '../adapters/aws/clients.js';
import { DestinationStore } from '../adapters/dynamodb/destination-store.js';
import { SegmentStore } from '../adapters/dynamodb/segment-store.js';
import { destinationTypesFrom, FileDeltaSink } from '../adapters/segments/delta-sink.js';
import { DestinationInputSchema } from '../core/activate/destinations.js';
import type { MembershipDelta } from '../core/segments/delta.js';
import { deltaQueueFor } from '../resources/queues.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../resources/tables.js';
import { fmt, percentile, withLocalCdp } from './support.js';

const total = Number(process.argv[2] ?? 100_000);
const steadySeconds = Number(process.argv[3] ?? 20);

/** DynamoDB requests the handlers make, by operation (the worker's claims and settles among them). */
const ddbRequests = new Map<string, number>();
meterClients((service, client) => {
  if (service !== 'dynamodb') return;
  // biome-ignore lint/suspicious/noExplicitAny: middleware over the client's own stack
  (client.middlewareStack as any).add(
    // biome-ignore lint/suspicious/noExplicitAny: middleware signature
    (next: any, context: any) => (args: any) => {
      const op = String(context.commandName).replace(/Command$/, '');
      ddbRequests.set(op, (ddbRequests.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchActivateCounter' },
  );
});

await withLocalCdp(async (cdp) => {
  // Latencies per phase, keyed by the deltaId prefix each phase uses.
  const latencies = new Map<string, number[]>([
    ['backlog', []],
    ['steady', []],
  ]);
  const received = new Map<string, number>([
    ['backlog', 0],
    ['steady', 0],
  ]);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        events: Array<{ deltaId: string; at: string }>;
      };
      for (const e of body.events) {
        const phase = e.deltaId.slice(0, e.deltaId.indexOf('-'));
        latencies.get(phase)?.push(now - Date.parse(e.at));
        received.set(phase, (received.get(phase) ?? 0) + 1);
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  const receivedAll = async (phase: string, count: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while ((received.get(phase) ?? 0) < count) {
      if (Date.now() > deadline)
        throw new Error(`${phase}: ${received.get(phase)} of ${count} deltas arrived in time`);
      await sleep(20);
    }
  };

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
  const destinations = new DestinationStore(ddb, CONTROL_TABLE.localName);
  await destinations.create(
    segment.segmentId,
    DestinationInputSchema.parse({
      type: 'webhook',
      settings: { url, batchSize: 100, rateLimitPerSecond: 1000 },
    }),
  );
  // The sink the segment runner uses: it routes by the segment's destinations (webhook only here).
  const sink = new FileDeltaSink(cdp.dataDir, destinationTypesFrom(destinations));
  const deltas = (phase: string, from: number, count: number): MembershipDelta[] => {
    const at = new Date().toISOString();
    return Array.from({ length: count }, (_, k) => ({
      deltaId: `${phase}-${from + k}`,
      segmentId: segment.segmentId,
      profileId: `p_${phase}_${from + k}`,
      kind: 'entered',
      generation: 1,
      at,
      source: 'bench',
      traits: { plan: 'pro', email: `person${from + k}@example.com` },
      identities: [{ type: 'user_id', value: `u${from + k}` }],
      consent: { marketing: true },
    }));
  };
  const webhookQueue = deltaQueueFor('webhook');

  console.log(
    `activation bench: deltas -> ${webhookQueue.localFile} -> activation worker (batches of ${webhookQueue.batchSize}) -> webhook (batches of 100)`,
  );
  console.log(`\nphase 1, throughput: ${fmt(total)} deltas enqueued at once`);
  const t0 = performance.now();
  ddbRequests.clear();
  for (let i = 0; i < total; i += 1000) await sink.publish(deltas('backlog', i, Math.min(1000, total - i)));
  await receivedAll('backlog', total, 600_000);
  const seconds = (performance.now() - t0) / 1000;
  const throughput = total / seconds;
  const backlog = latencies.get('backlog')!.sort((a, b) => a - b);
  console.log(`delivered:       ${fmt(total)} deltas in ${fmt(seconds, 1)} s = ${fmt(throughput)} deltas/s`);
  const perDelta = [...ddbRequests].map(([op, n]) => `${op} ${fmt(n / total, 2)}`).join(', ');
  console.log(
    `DynamoDB:        per delta ${perDelta} (every handler on the way, the worker's claims included)`,
  );
  console.log(
    `time in backlog: p50 ${fmt(percentile(backlog, 50))} ms, p99 ${fmt(percentile(backlog, 99))} ms (waiting behind the backlog, not delivery latency)`,
  );

  const rate = Math.max(1, Math.floor(throughput / 2));
  console.log(
    `\nphase 2, delivery latency: ${fmt(rate)} deltas/s (50% of phase 1) for ${fmt(steadySeconds)} s`,
  );
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < steadySeconds * 1000) {
    // Catch up to the schedule each tick, so timer drift does not lower the rate.
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    if (due > sent) {
      await sink.publish(deltas('steady', sent, due - sent));
      sent = due;
    }
    await sleep(50);
  }
  const offered = sent / ((performance.now() - start) / 1000);
  await receivedAll('steady', sent, 120_000);
  const steady = latencies.get('steady')!.sort((a, b) => a - b);
  console.log(`delivered:       ${fmt(sent)} deltas, offered at ${fmt(offered)} deltas/s`);
  console.log(
    `latency:         p50 ${fmt(percentile(steady, 50))} ms, p99 ${fmt(percentile(steady, 99))} ms (enqueued -> received at the webhook)`,
  );
  server.close();
  client.destroy();
});
