/**
 * Replay throughput: events per second replayed from the lake (s3rver) into empty tables (dynalite)
 * by the profile processor's own replay step (S3 reads, ordering, the processor's parser, the
 * suppression check, the pipeline with its listeners, progress on the replay record), against the
 * bench:process measurement (the pipeline alone on pre-parsed events) on the same servers, same run.
 *   npm run bench:replay -- [events=20000] [people=2000]
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { dynamoDbDocumentClient } from '../adapters/aws/clients.js';
import { requestCounter } from '../adapters/dynamodb/batch.js';
import { DynamoProfileStore } from '../adapters/dynamodb/profile-store.js';
import { ReplayStore } from '../adapters/dynamodb/replay-store.js';
import type { CollectedEvent } from '../core/events/schema.js';
import { DEFAULT_IDENTITY_CONFIG } from '../core/identity/identifiers.js';
import { rawObjectKey, rawPartition } from '../core/lake/layout.js';
import { normalizeEvent } from '../core/process/normalize.js';
import { processBatch } from '../core/process/pipeline.js';
import { NO_REPLAY_COUNTS, START } from '../core/replay/plan.js';
import { MAX_REPLAY_RATE } from '../core/replay/request.js';
import type { ReplayState } from '../lambdas/replay/step.js';
import { createTable } from '../local/bootstrap.js';
import { LAKE_BUCKET } from '../resources/buckets.js';
import { CONTROL_TABLE, PROFILES_TABLE, TIMELINE_TABLE } from '../resources/tables.js';
import { fmt, withLocalCdp } from './support.js';

const total = Number(process.argv[2] ?? 20_000);
const people = Number(process.argv[3] ?? 2_000);
process.env.CDP_REPLAY_SLICE_SECONDS = '3600';

/** bench:process's population: anonymous browsing on 1-2 devices, a login (identify) now and then. */
function events(sourceId: string): CollectedEvent[] {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const start = Date.now() - 3 * 3_600_000;
  const out: CollectedEvent[] = [];
  for (let i = 0; i < total; i++) {
    const p = rnd(people);
    const t = new Date(start + Math.floor((i * 3 * 3_600_000) / total)).toISOString();
    const base = {
      messageId: `bench-${i}`,
      sourceId,
      receivedAt: t,
      timestamp: t,
      anonymousId: `anon-${p}-${rnd(2)}`,
    };
    const kind = rnd(10);
    out.push(
      (kind === 0
        ? {
            ...base,
            type: 'identify',
            userId: `user-${p}`,
            traits: { email: `person${p}@example.com`, plan: ['free', 'pro'][rnd(2)] },
          }
        : kind === 1
          ? { ...base, type: 'track', event: 'Order Completed', properties: { total: 10 + rnd(90) } }
          : kind < 5
            ? { ...base, type: 'page', name: 'Product', properties: { path: `/p/${rnd(500)}` } }
            : {
                ...base,
                type: 'track',
                event: 'Product Viewed',
                properties: { sku: `sku-${rnd(500)}` },
              }) as CollectedEvent,
    );
  }
  return out;
}

await withLocalCdp(
  async (cdp) => {
    const all = events(cdp.sourceId);
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: cdp.endpoints.s3,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
    });
    // The lake as the lake writer leaves it: gzip JSON Lines per partition, 500 records an object.
    const byPartition = new Map<string, CollectedEvent[]>();
    for (const e of all) {
      const key = JSON.stringify(rawPartition(e.sourceId, e.receivedAt));
      byPartition.set(key, [...(byPartition.get(key) ?? []), e]);
    }
    let objects = 0;
    for (const [key, list] of byPartition)
      for (let i = 0; i < list.length; i += 500) {
        const chunk = list.slice(i, i + 500);
        await s3.send(
          new PutObjectCommand({
            Bucket: LAKE_BUCKET.localName,
            Key: rawObjectKey(
              JSON.parse(key),
              'shardId-000000000000',
              String(i).padStart(21, '0'),
              String(i + chunk.length - 1).padStart(21, '0'),
            ),
            Body: gzipSync(`${chunk.map((e) => JSON.stringify(e)).join('\n')}\n`),
          }),
        );
        objects++;
      }
    console.log(
      `replay bench: ${fmt(total)} events of ${fmt(people)} people in ${fmt(objects)} lake objects, dynalite + s3rver`,
    );

    // bench:process, as bench/process.ts measures it: the pipeline on pre-parsed events, fresh tables.
    const client = cdp.env.AWS_ENDPOINT_URL_DYNAMODB;
    const ddb = dynamoDbDocumentClient();
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const raw = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: client,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const canonical = all.map((e) => normalizeEvent(e, DEFAULT_IDENTITY_CONFIG));
    // Measured before and after the replay (fresh tables each time): the machine's load drifts.
    const processPhase = async (name: string) => {
      await createTable(raw, { ...PROFILES_TABLE, localName: `${name}-profiles` });
      await createTable(raw, { ...TIMELINE_TABLE, localName: `${name}-timeline` });
      const store = new DynamoProfileStore(ddb, `${name}-profiles`, {
        timelineRetentionDays: 30,
        dedupeWindowHours: 24,
        timelineTable: `${name}-timeline`,
      });
      requestCounter.count = 0;
      const p0 = performance.now();
      for (let i = 0; i < canonical.length; i += 500)
        await processBatch(
          canonical.slice(i, i + 500),
          { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
          new Date(),
        );
      return { rate: total / ((performance.now() - p0) / 1000), requests: requestCounter.count / total };
    };
    const before = await processPhase('bench-before');

    // Replay: the processor function's replay step, as the state machine calls it, into empty tables.
    const { handler } = (await import('../lambdas/process/handler.js')) as unknown as {
      handler: (e: unknown) => Promise<ReplayState>;
    };
    const replays = new ReplayStore(ddb, CONTROL_TABLE.localName);
    const request = {
      from: 'lake' as const,
      since: new Date(Date.now() - 4 * 3_600_000).toISOString(),
      until: new Date().toISOString(),
      ratePerSecond: MAX_REPLAY_RATE,
    };
    await replays.create({
      replayId: 'rpl_bench',
      request,
      status: 'queued',
      counts: NO_REPLAY_COUNTS,
      cursor: START,
      createdAt: new Date().toISOString(),
    });
    let state: ReplayState = {
      replayId: 'rpl_bench',
      cursor: START,
      counts: NO_REPLAY_COUNTS,
      slice: 0,
      done: false,
    };
    requestCounter.count = 0;
    const r0 = performance.now();
    while (!state.done) state = await handler({ replay: 'slice', state });
    const replaySeconds = (performance.now() - r0) / 1000;
    const replayRate = state.counts.read / replaySeconds;

    const replayRequests = requestCounter.count / total;
    const after = await processPhase('bench-after');
    const processRate = (before.rate + after.rate) / 2;
    console.log(
      `bench:process:   ${fmt(processRate)} events/s (pipeline only; ${fmt(before.rate)} before and ${fmt(after.rate)} after the replay; ${fmt(before.requests, 2)} DynamoDB requests/event)`,
    );
    console.log(
      `bench:replay:    ${fmt(replayRate)} events/s (${fmt(replaySeconds, 1)} s; read ${fmt(state.counts.read)}, applied ${fmt(state.counts.applied)}, duplicates ${fmt(state.counts.duplicates)}, quarantined ${fmt(state.counts.quarantined)}; ${fmt(replayRequests, 2)} DynamoDB requests/event)`,
    );
    console.log(`ratio replay/process: ${fmt(replayRate / processRate, 2)} (goal >= 0.8)`);
  },
  { streamConsumers: false },
);
