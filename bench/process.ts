/**
 * Profile processing throughput against dynalite: the real pipeline (dedupe, identity graph, profile
 * writes) on batches as the Kinesis consumer receives them.
 *   npm run bench:process -- [events=100000] [people=10000] [batchSize=500]
 */
import { batchWrite, requestCounter } from '../adapters/dynamodb/batch.js';
import { DynamoProfileStore } from '../adapters/dynamodb/profile-store.js';
import type { CollectedEvent } from '../core/events/schema.js';
import { DEFAULT_IDENTITY_CONFIG } from '../core/identity/identifiers.js';
import { normalizeEvent } from '../core/process/normalize.js';
import { processBatch } from '../core/process/pipeline.js';
import { startStandaloneDynamo } from '../local/emulators/standalone.js';
import { PROFILES_TABLE } from '../resources/tables.js';
import { random } from './cost/population.js';
import { fmt } from './support.js';

const total = Number(process.argv[2] ?? 100_000);
const people = Number(process.argv[3] ?? 10_000);
const batchSize = Number(process.argv[4] ?? 500);

/** Each person browses anonymously on 1-2 devices and logs in now and then (identify with email). */
function* events(): Generator<CollectedEvent> {
  // The high bits of the generator: its low bits repeat with a short period, which sent all events to
  // a quarter of the people (about 40 each instead of 10).
  const rnd = random(42);
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < total; i++) {
    const p = rnd(people);
    const device = `anon-${p}-${rnd(2)}`;
    const kind = rnd(10);
    const t = new Date(start + i * 1000).toISOString();
    const base = {
      messageId: `bench-${i}`,
      sourceId: 'bench',
      receivedAt: t,
      timestamp: t,
      anonymousId: device,
    };
    if (kind === 0)
      yield {
        ...base,
        type: 'identify',
        userId: `user-${p}`,
        traits: { email: `person${p}@example.com`, plan: ['free', 'pro'][rnd(2)] },
      } as CollectedEvent;
    else if (kind === 1)
      yield {
        ...base,
        type: 'track',
        event: 'Order Completed',
        properties: { total: 10 + rnd(90) },
      } as CollectedEvent;
    else if (kind < 5)
      yield {
        ...base,
        type: 'page',
        name: 'Product',
        properties: { path: `/p/${rnd(500)}` },
      } as CollectedEvent;
    else
      yield {
        ...base,
        type: 'track',
        event: 'Product Viewed',
        properties: { sku: `sku-${rnd(500)}` },
      } as CollectedEvent;
  }
}

const dynamo = await startStandaloneDynamo();
try {
  const store = new DynamoProfileStore(dynamo.doc, PROFILES_TABLE.localName, {
    timelineRetentionDays: 30,
    dedupeWindowHours: 24,
  });
  console.log(
    `process bench: ${fmt(total)} events from ${fmt(people)} people, batches of ${batchSize}, dynalite in memory`,
  );
  const all = [...events()].map((e) => normalizeEvent(e, DEFAULT_IDENTITY_CONFIG));
  requestCounter.count = 0;
  const t0 = performance.now();
  let merges = 0;
  for (let i = 0; i < all.length; i += batchSize) {
    const r = await processBatch(
      all.slice(i, i + batchSize),
      { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
      new Date(),
    );
    merges += r.merges;
  }
  const seconds = (performance.now() - t0) / 1000;
  const requests = requestCounter.count;

  // Raw dynalite write speed in the same run, as the ceiling to compare with.
  const rawTable = await dynamo.table(PROFILES_TABLE, 'raw');
  const rawItems = Math.min(total, 20_000);
  const r0 = performance.now();
  const items = Array.from({ length: rawItems }, (_, i) => ({
    put: { pk: `RAW#${i}`, sk: 'X', payload: 'x'.repeat(200) },
  }));
  for (let i = 0; i < items.length; i += 500) await batchWrite(dynamo.doc, rawTable, items.slice(i, i + 500));
  const rawRate = rawItems / ((performance.now() - r0) / 1000);

  const rate = total / seconds;
  console.log(`processed:            ${fmt(rate)} events/s (${fmt(seconds, 1)} s, ${fmt(merges)} merges)`);
  console.log(
    `DynamoDB requests:    ${fmt(requests / total, 3)} per event (${fmt(requests)} in total; goal <= 1.5)`,
  );
  console.log(`raw BatchWriteItem:   ${fmt(rawRate)} items/s on the same dynalite`);
  console.log(`ratio events/raw:     ${fmt(rate / rawRate, 2)}`);
} finally {
  await dynamo.stop();
}
