/**
 * Cost per event: drives the real handlers in the local runtime with a generated population and
 * prices what they use at us-east-1 list prices (`bench/cost/prices.ts`, model in `bench/cost/model.ts`).
 *   npm run bench:cost -- [people=50] [history=100] [events=300] [eventsPerSecond=1000] [serverBatch=20]
 *
 * Phases: month one (new people send `events` server and `events` browser events, then a batch
 * segment run), preload (each person gets `history` more events over the last 90 days, unmetered),
 * steady state (the same traffic again from people with long histories, then a run).
 *
 * Priced twice: with the default settings, and with the settings for steady, high-volume traffic
 * (`cdp:timelineCapacity=provisioned`, `cdp:ingestEndpoint=function-url`, `cdp:timelineBackups=false`,
 * `cdp:streamMode=PROVISIONED`),
 * whose lines that differ are printed in a second table.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { meterClients } from '../adapters/aws/clients.js';
import { TRAITS_SK } from '../adapters/dynamodb/profile-item.js';
import { DEFAULT_SETTINGS, tracesOwnInvocations } from '../lib/config.js';
import { startLocalCdp } from '../local/runtime.js';
import { FUNCTIONS, SEGMENT_RUN_STATE_MACHINE, STREAM_CONSUMERS } from '../resources/functions/index.js';
import { DELTA_QUEUES } from '../resources/queues.js';
import { CONTROL_TABLE, PROFILES_TABLE, TABLES, TIMELINE_TABLE } from '../resources/tables.js';
import { ageMonthOne, dateSegmentsBack } from './cost/age-month-one.js';
import { itemSize } from './cost/capacity.js';
import { type Usage, UsageMeter } from './cost/meter.js';
import {
  type Assumptions,
  type CostLine,
  changedItems,
  type MeasuredRun,
  rebatchConsumers,
  type SteadyLoadSettings,
  segmentationCost,
  storageCost,
  totalPerMillion,
  trafficCost,
} from './cost/model.js';
import { browserEvent, people, random, serverEvent } from './cost/population.js';
import { PRICES } from './cost/prices.js';
import { profileItemReport } from './cost/profile-items.js';
import { fmt } from './support.js';

const [peopleCount, history, eventsPerPhase, eventsPerSecond, serverBatch, browserBatch] = [
  50, 100, 300, 1000, 20, 10,
].map((d, i) => {
  const v = Number(process.argv[2 + i] ?? d);
  if (!Number.isInteger(v) || v < 1) throw new Error(`argument ${i + 1} must be a positive integer`);
  return v;
}) as [number, number, number, number, number, number];

// Deployed functions log at INFO (Powertools' default); the local default is WARN.
process.env.CDP_LOG_LEVEL = 'INFO';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// On-demand streams start with 4 shards of capacity; they are priced by bytes, not shards.
const SHARDS = 4;

const assumptions: Assumptions = {
  eventsPerSecond,
  memoryMbByFunction: Object.fromEntries(FUNCTIONS.map((f) => [f.id, f.memoryMb])),
  // One warm, same-region round trip (keep-alive): typical p50s, not guarantees.
  sdkLatencyMs: { dynamodb: 5, kinesis: 15, s3: 25 },
  // As deployed with the default settings (`cdp:platformLogs`, `cdp:tracing`).
  platformLogBytesPerInvocation: DEFAULT_SETTINGS.platformLogs ? 600 : 0,
  xraySampledShareByFunction: Object.fromEntries(
    FUNCTIONS.map((f) => [f.id, tracesOwnInvocations(f, DEFAULT_SETTINGS.tracing) ? 0.05 : 0]),
  ),
  streamConsumers: STREAM_CONSUMERS.filter((c) => c.streamId === 'EventsStream').length,
  runsPerHour: 60 / SEGMENT_RUN_STATE_MACHINE.defaultScheduleMinutes,
  retentionHours: 90 * 24,
  historyPerPerson: history,
  // Assumption: a person who sends anything in an hour sends about 4 events in it (a short session);
  // at 1 (every event from a different person) incremental runs cost 4 times as much.
  eventsPerChangedPerson: 4,
  // Assumption: a quarter as many profiles again are looked at because a window edge passed.
  dueShare: 0.25,
  fullRunHours: 24,
  runOnceWriteKinds: ['SUMMARY', 'WATERMARK', 'SYNC'],
  profilesTable: PROFILES_TABLE.localName,
  timelineTable: TIMELINE_TABLE.localName,
};

const out = process.stdout.write.bind(process.stdout);
const say = (s: string) => out(`${s}\n`);

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const meter = new UsageMeter();
const unmeter = meterClients(meter.clientMeter);
const dataDir = mkdtempSync(join(tmpdir(), 'cdp-cost-'));
say(
  `cost bench: ${peopleCount} people, ${history} events of history each, ${eventsPerPhase} server + ${eventsPerPhase} browser events per phase, priced at ${eventsPerSecond} events/s`,
);
const cdp = await startLocalCdp({ dataDir, port: 0, persist: false, invocationHook: meter.invocationHook });
const restoreLogs = meter.captureLogs();
try {
  const auth = `Basic ${Buffer.from(`${cdp.writeKey}:`).toString('base64')}`;
  const post = async (path: string, body: unknown, admin = false) => {
    const res = await fetch(`${cdp.apiUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': admin ? 'application/json' : 'text/plain',
        authorization: admin ? `Bearer ${cdp.adminKey}` : auth,
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  // Segments of each kind: real time (trait, computed trait) and batch only (event in a window).
  const segment = async (name: string, condition: unknown) =>
    (await post('/v1/segments', { name, condition }, true)).segmentId as string;
  const proId = await segment('Pro plan', { trait: 'plan', op: 'eq', value: 'pro' });
  await segment('Buyers', { computed: 'order_count', op: 'gte', value: 1 });
  await segment('Engaged viewers', { event: 'Product Viewed', count: { gte: 3 }, within_last_days: 30 });
  // Defined long before the traffic they segment, as in a deployment (real-time evaluation treats a
  // profile last written within a minute of a definition's change as changed).
  await dateSegmentsBack(new DynamoDBClient({}), CONTROL_TABLE.localName, 180 * 86_400_000);
  await post(
    `/v1/segments/${proId}/destinations`,
    { type: 'eventbridge', settings: {}, consentCategory: null },
    true,
  );

  const crowd = people(peopleCount);
  const rnd = random(7);
  const pick = () => crowd[rnd(crowd.length)]!;
  const queued = () =>
    DELTA_QUEUES.reduce((n, q) => {
      const file = join(dataDir, q.localFile);
      return n + (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0);
    }, 0);

  async function phase(kind: 'server' | 'browser' | 'browser-batched', events: number) {
    await cdp.drain(600_000);
    meter.reset();
    const queuedBefore = queued();
    const now = new Date();
    let requests = 0;
    if (kind === 'server') {
      const batches = Array.from({ length: Math.ceil(events / serverBatch) }, (_, b) =>
        Array.from({ length: Math.min(serverBatch, events - b * serverBatch) }, () =>
          serverEvent(pick(), now, rnd),
        ),
      );
      await pool(batches, 8, async (batch) => {
        requests++;
        await post('/v1/batch', { batch, sentAt: now.toISOString() });
      });
    } else if (kind === 'browser-batched') {
      // analytics.js with its batching delivery strategy (`deliveryStrategy: { strategy: 'batching' }`):
      // one browser's events, up to `browserBatch` of them, in one request to `/v1/b`.
      const batches = Array.from({ length: Math.ceil(events / browserBatch) }, (_, b) => {
        const person = pick();
        const first = browserEvent(person, now, rnd).body;
        return Array.from({ length: Math.min(browserBatch, events - b * browserBatch) }, (_, i) =>
          i === 0
            ? first
            : {
                ...browserEvent(person, now, rnd).body,
                anonymousId: first.anonymousId,
                userId: first.userId,
              },
        );
      });
      await pool(batches, 8, async (batch) => {
        requests++;
        await post('/v1/b', { batch, sentAt: now.toISOString() });
      });
    } else {
      const calls = Array.from({ length: events }, () => browserEvent(pick(), now, rnd));
      await pool(calls, 16, async ({ path, body }) => {
        requests++;
        await post(path, body);
      });
    }
    await cdp.drain(600_000);
    return { usage: meter.reset(), requests, events, queued: queued() - queuedBefore };
  }

  async function segmentRun(
    storedEvents: number,
    eventsSinceLastRun: number,
    input: Record<string, unknown> = {},
  ): Promise<MeasuredRun & { queued: number; summary: Record<string, unknown> }> {
    await cdp.drain(600_000);
    meter.reset();
    const queuedBefore = queued();
    const execution = cdp.stepFunctions.start(
      SEGMENT_RUN_STATE_MACHINE.localArn,
      input,
      `cost-${Date.now()}`,
    );
    await cdp.stepFunctions.idle();
    await cdp.drain(600_000);
    return {
      summary: JSON.parse(execution.output ?? '{}') as Record<string, unknown>,
      usage: meter.reset(),
      profiles: peopleCount,
      storedEvents,
      eventsSinceLastRun,
      queued: queued() - queuedBefore,
    };
  }

  const t0 = performance.now();
  const monthOneFrom = new Date();
  const server1 = await phase('server', eventsPerPhase);
  const browser1 = await phase('browser', eventsPerPhase);
  const run1 = await segmentRun(2 * eventsPerPhase, 2 * eventsPerPhase);
  say(`month one measured (${fmt((performance.now() - t0) / 1000, 1)} s)`);

  // Long histories: `history` events per person over the last 90 days, as server batches (unmetered).
  // The oldest two are the person's visits from each of their browsers while logged in, so that in
  // steady state both browsers are known (without them, a population larger than the month-one
  // traffic could visit would link browsers in the steady phase, and price first visits as steady).
  const t1 = performance.now();
  const day = 86_400_000;
  const preload = crowd.flatMap((p) =>
    Array.from({ length: history }, (_, i) => {
      const at = new Date(Date.now() - ((history - i) / history) * 89 * day);
      if (i >= 2 || history < 4) return serverEvent(p, at, rnd);
      const { body } = browserEvent(p, at, rnd);
      return { ...body, anonymousId: p.anonymousIds[i], userId: p.userId };
    }),
  );
  meter.paused = true;
  const chunks = Array.from({ length: Math.ceil(preload.length / 100) }, (_, i) =>
    preload.slice(i * 100, i * 100 + 100),
  );
  await pool(chunks, 8, async (batch) => {
    await post('/v1/batch', { batch, sentAt: new Date().toISOString() });
  });
  await cdp.drain(600_000);
  // The history was segmented as it came (earlier runs): a run now, unmetered, so the measured run's
  // membership changes are the steady traffic's, not the whole history's at once.
  cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, {}, `cost-history-${Date.now()}`);
  await cdp.stepFunctions.idle();
  await cdp.drain(600_000);
  // The month-one phase linked people's browsers and sent their first messages minutes ago; in
  // steady state that was months ago.
  const aged = await ageMonthOne(
    new DynamoDBClient({}),
    { profiles: PROFILES_TABLE.localName, timeline: TIMELINE_TABLE.localName },
    [cdp.sourceId],
    monthOneFrom,
    89 * day,
  );
  meter.paused = false;
  say(
    `preloaded ${fmt(preload.length)} events; month one dated back 89 days on ${fmt(aged)} profiles (${fmt((performance.now() - t1) / 1000, 1)} s)`,
  );

  const t2 = performance.now();
  const server2 = await phase('server', eventsPerPhase);
  const browser2 = await phase('browser', eventsPerPhase);
  const batched2 = await phase('browser-batched', eventsPerPhase);
  const stored = 5 * eventsPerPhase + preload.length;
  const run2 = await segmentRun(stored, 3 * eventsPerPhase);
  // The hourly schedule's run: the people who changed since the previous run (both steady phases'
  // events are within the window it reads back) and those due by a window edge.
  const run3 = await segmentRun(stored, 3 * eventsPerPhase, { incremental: true });
  if (run3.summary.mode !== 'incremental')
    throw new Error(`run 3 was not incremental: ${String(run3.summary.modeReason)}`);
  const incremental = {
    usage: run3.usage,
    profilesEvaluated: Number(run3.summary.profilesEvaluated),
    eventsSinceLastRun: 3 * eventsPerPhase,
  };
  say(`steady state measured (${fmt((performance.now() - t2) / 1000, 1)} s)`);

  // Storage: every item of every table (timeline events, profiles, nodes, memberships, control
  // records) with DynamoDB's 100 bytes of overhead, per stored event.
  const bytesByTable: Record<string, number> = {};
  const profileItems: Array<{ item: Record<string, unknown>; bytes: number }> = [];
  const traitValues = new Map<string, Array<{ item: Record<string, unknown>; bytes: number }>>();
  for (const table of TABLES) {
    let bytes = 0;
    for await (const page of paginateScan({ client: new DynamoDBClient({}) }, { TableName: table.localName }))
      for (const item of page.Items ?? []) {
        bytes += itemSize(item) + 100;
        if (table === PROFILES_TABLE && item.sk?.S === 'PROFILE' && item.packed?.B && !item.mergedInto)
          profileItems.push({ item: unmarshall(item), bytes: itemSize(item) });
        if (table === PROFILES_TABLE && item.sk?.S === TRAITS_SK)
          traitValues.set(item.pk!.S!, [
            ...(traitValues.get(item.pk!.S!) ?? []),
            { item: unmarshall(item), bytes: itemSize(item) },
          ]);
      }
    bytesByTable[table.localName] = bytes;
  }
  const tableBytes = Object.values(bytesByTable).reduce((a, b) => a + b, 0);
  const dynamoBytesPerEvent = tableBytes / stored;
  const lakeBytes = (p: { usage: Usage; events: number }) => p.usage.s3.putBytes / p.events;

  // What the stream consumers would do in Lambda's batches (see `rebatchConsumers`).
  const onAws = (p: { usage: Usage; events: number }) =>
    rebatchConsumers(p.usage, p.events, STREAM_CONSUMERS, eventsPerSecond, SHARDS);
  const price = (
    p: { usage: Usage; requests: number; events: number; queued: number },
    period: 'steady' | 'monthOne',
    settings: SteadyLoadSettings = {},
  ): CostLine[] => {
    const usage = onAws(p);
    const lines = trafficCost(usage, p.events, p.requests, assumptions, settings);
    // Deltas: one SendMessageBatch, one receive and one delete per 10 messages.
    const sqs = (p.queued * 0.3) / p.events;
    if (sqs > 0)
      lines.push({
        item: 'SQS requests (deltas)',
        perEvent: sqs,
        unit: 'requests',
        usdPerMillion: sqs * PRICES.sqsRequest.usd * 1e6,
      });
    lines.push(...segmentationCost(run1, run2, assumptions, period, incremental));
    const backedUp = settings.noTimelineBackups
      ? dynamoBytesPerEvent - bytesByTable[TIMELINE_TABLE.localName]! / stored
      : dynamoBytesPerEvent;
    lines.push(
      ...storageCost(
        { bytesPerStoredEvent: dynamoBytesPerEvent, backedUpBytesPerStoredEvent: backedUp },
        lakeBytes(p),
        assumptions,
        period,
      ),
    );
    return lines;
  };
  const phases = {
    'server, month one': [server1, 'monthOne'],
    'browser, month one': [browser1, 'monthOne'],
    'server, steady': [server2, 'steady'],
    'browser, steady': [browser2, 'steady'],
    [`browser, batches of ${browserBatch}, steady`]: [batched2, 'steady'],
  } as const;
  const priced = (settings: SteadyLoadSettings = {}) =>
    Object.fromEntries(
      Object.entries(phases).map(([name, [p, period]]) => [name, price(p, period, settings)]),
    );
  const columns = priced();
  // The stack settings for steady, high-volume traffic: the timeline provisioned at the default
  // target, every ingest request to the collector's function URL.
  const targetPercent = DEFAULT_SETTINGS.timelineTargetUtilization;
  const steadyColumns = priced({
    provisioned: { table: TIMELINE_TABLE.localName, targetUtilization: targetPercent / 100 },
    functionUrl: true,
    noTimelineBackups: true,
    provisionedStream: { targetUtilization: targetPercent / 100 },
  });
  restoreLogs();

  const items = [...new Set(Object.values(columns).flatMap((c) => c.map((l) => l.item)))];
  const cell = (lines: CostLine[], item: string) => lines.find((l) => l.item === item)?.usdPerMillion ?? 0;
  const names = Object.keys(columns);
  say(`\n$ per million events (us-east-1 list prices, on-demand)\n`);
  say(`| Item | ${names.join(' | ')} |`);
  say(`| --- | ${names.map(() => '---:').join(' | ')} |`);
  for (const item of items) {
    const values = Object.values(columns).map((c) => cell(c, item));
    if (values.every((v) => v < 0.0005)) continue;
    say(`| ${item} | ${values.map((v) => fmt(v, 3)).join(' | ')} |`);
  }
  say(
    `| **Total** | ${Object.values(columns)
      .map((c) => `**${fmt(totalPerMillion(c), 2)}**`)
      .join(' | ')} |`,
  );

  const changed = [
    ...new Set(Object.keys(columns).flatMap((name) => changedItems(columns[name]!, steadyColumns[name]!))),
  ];
  say(
    `\nWith \`cdp:timelineCapacity\` provisioned (${targetPercent}% target), \`cdp:ingestEndpoint\` function-url, \`cdp:timelineBackups\` false and \`cdp:streamMode\` PROVISIONED (shards at ${targetPercent}%), $ per million events\n`,
  );
  say(`| Item | ${names.join(' | ')} |`);
  say(`| --- | ${names.map(() => '---:').join(' | ')} |`);
  for (const item of changed)
    say(
      `| ${item} | ${Object.values(steadyColumns)
        .map((c) => fmt(cell(c, item), 3))
        .join(' | ')} |`,
    );
  const totals = (c: Record<string, CostLine[]>) => Object.values(c).map((lines) => totalPerMillion(lines));
  say(
    `| **Total** | ${totals(steadyColumns)
      .map((v) => `**${fmt(v, 2)}**`)
      .join(' | ')} |`,
  );
  say(
    `| Total with the defaults (above) | ${totals(columns)
      .map((v) => fmt(v, 2))
      .join(' | ')} |`,
  );

  const wru = (u: Usage) => Object.values(u.dynamo).reduce((s, t) => s + t.write, 0);
  const rru = (u: Usage) => Object.values(u.dynamo).reduce((s, t) => s + t.read, 0);
  say("\nPer event (processing, without segmentation runs; stream consumers' batches as Lambda makes them):");
  for (const [name, p] of Object.entries({
    'server, month one': server1,
    'browser, month one': browser1,
    'server, steady': server2,
    'browser, steady': browser2,
    'browser batched': batched2,
  })) {
    const usage = onAws(p);
    const tables = Object.entries(usage.dynamo)
      .map(([t, c]) => `${t} ${fmt(c.write / p.events, 2)} W / ${fmt(c.read / p.events, 2)} R`)
      .join(', ');
    say(
      `  ${name.padEnd(19)} DynamoDB ${fmt(wru(usage) / p.events, 2)} WRU, ${fmt(rru(usage) / p.events, 2)} RRU (${tables}); Kinesis ${fmt(p.usage.kinesis.bytes / p.events)} B -> ${fmt(p.usage.kinesis.billedBytes / p.events)} B billed; logs ${fmt(usage.logBytes / p.events)} B; ${fmt(p.requests / p.events, 3)} API requests`,
    );
  }
  for (const [name, p] of Object.entries({ server: server2, browser: browser2 })) {
    say(`  DynamoDB by operation, ${name} steady state:`);
    for (const [op, c] of Object.entries(onAws(p).dynamoOps).sort())
      say(
        `    ${op.padEnd(34)} ${fmt(c.requests / p.events, 3)} requests, ${fmt(c.write / p.events, 2)} WRU, ${fmt(c.read / p.events, 2)} RRU`,
      );
  }
  const readsByTable = (u: Usage) =>
    Object.entries(u.dynamo)
      .filter(([, c]) => c.read > 0)
      .map(([t, c]) => `${t} ${fmt(c.read)}`)
      .join(', ');
  for (const [name, r] of Object.entries({ 'run 1 (month one)': run1, 'run 2 (steady)': run2 }))
    say(
      `Segment ${name}: ${fmt(r.storedEvents)} stored events, ${fmt(rru(r.usage))} RRU (${fmt(rru(r.usage) / r.storedEvents, 3)} per stored event; ${readsByTable(r.usage)}), ${fmt(wru(r.usage))} WRU, runner evaluate steps ${r.usage.lambda['SegmentRunner:evaluate']?.invocations ?? 0}, ${String(r.summary.timelinesRead)} timelines read`,
    );
  say(
    `Segment run 3 (incremental): ${fmt(incremental.profilesEvaluated)} profiles evaluated, ${fmt(rru(run3.usage))} RRU (${fmt(rru(run3.usage) / Math.max(1, incremental.profilesEvaluated), 2)} per profile evaluated; ${readsByTable(run3.usage)}), ${fmt(wru(run3.usage))} WRU, ${String(run3.summary.timelinesRead)} timelines read, ${String(run3.summary.dueWritten)} due items written`,
  );
  for (const [name, r] of Object.entries({ 'run 2 (full)': run2.usage, 'run 3 (incremental)': run3.usage })) {
    say(`  DynamoDB by operation, segment ${name}:`);
    for (const [op, c] of Object.entries(r.dynamoOps).sort())
      if (c.read > 0 || c.write > 0)
        say(
          `    ${op.padEnd(34)} ${fmt(c.requests).padStart(6)} requests, ${fmt(c.read, 1).padStart(7)} RRU, ${fmt(c.write, 1).padStart(7)} WRU`,
        );
  }
  say(
    `DynamoDB storage: ${fmt(dynamoBytesPerEvent)} bytes per stored event (${Object.entries(bytesByTable)
      .map(([t, b]) => `${t} ${fmt(b / stored)}`)
      .join(', ')}); lake: ${fmt(lakeBytes(server2), 1)} bytes per event (gzip)`,
  );
  say(profileItemReport(profileItems, traitValues));
} finally {
  restoreLogs();
  unmeter();
  await cdp.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
