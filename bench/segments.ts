/**
 * Segment evaluation speed: the pure evaluator over synthetic profiles, then a full local batch run
 * (the synthesized state machine on aws-local-stepfunctions) over profiles stored in dynalite.
 * Then incremental runs after `changed` profiles change (each phase as an hour later): DynamoDB read
 * units per run against the profiles changed, against the full run's. One segment has an event
 * condition (views in the last 30 days): profiles carry their event aggregates and timeline items,
 * and a last full run over the same profiles without aggregates (as written before they existed)
 * shows what reading candidates' timelines costs instead.
 *   npm run bench:segments -- [evaluatorProfiles=1000000] [batchProfiles=100000] [changed=100,1000,10000]
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoDbDocumentClient, meterClients } from '../adapters/aws/clients.js';
import { batchWrite, type Item } from '../adapters/dynamodb/batch.js';
import { keys } from '../adapters/dynamodb/profile-keys.js';
import { SegmentChangeLog } from '../adapters/dynamodb/segment-changes.js';
import { SegmentStore } from '../adapters/dynamodb/segment-store.js';
import { timelineItem } from '../adapters/dynamodb/timeline-item.js';
import { encodeDays } from '../core/profiles/activity.js';
import type { Profile, TimelineEvent } from '../core/profiles/profile.js';
import { emptyProfile, type ProfileState } from '../core/profiles/state.js';
import { compile } from '../core/segments/evaluate.js';
import { CHANGE_LOG_MARGIN_MS } from '../core/segments/incremental.js';
import type { Condition } from '../core/segments/language.js';
import { compileTiming } from '../core/segments/timing.js';
import { SEGMENT_RUN_STATE_MACHINE } from '../resources/functions/index.js';
import { CONTROL_TABLE, PROFILES_TABLE, TIMELINE_TABLE } from '../resources/tables.js';
import { UsageMeter } from './cost/meter.js';
import { fmt, withLocalCdp } from './support.js';

const evaluatorProfiles = Number(process.argv[2] ?? 1_000_000);
const batchProfiles = Number(process.argv[3] ?? 100_000);
const changedCounts = (process.argv[4] ?? '100,1000,10000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0 && n <= batchProfiles);
// The batch runs judge windows by the real clock, so the synthetic history is relative to it.
const NOW = Date.now();

const SEGMENTS: Condition[] = [
  { trait: 'plan', op: 'eq', value: 'pro' },
  {
    and: [
      { trait: 'plan', op: 'in', value: ['pro', 'team'] },
      { computed: 'order_count', op: 'gte', value: 2 },
    ],
  },
  { computed: 'total_revenue', op: 'gt', value: 500 },
  { computed: 'last_seen', op: 'within_last', days: 30 },
  {
    and: [
      { consent: 'marketing', granted: true },
      { trait: 'country', op: 'eq', value: 'FR' },
    ],
  },
  {
    or: [
      { trait: 'email', op: 'contains', value: '@example.org' },
      { trait: 'company', op: 'exists' },
    ],
  },
  { not: { trait: 'plan', op: 'eq', value: 'free' } },
  { computed: 'event_counts.Product Viewed', op: 'gte', value: 10 },
  {
    and: [
      { trait: 'age', op: 'gte', value: 25 },
      { trait: 'age', op: 'lt', value: 35 },
    ],
  },
  { trait: 'signup', op: 'after', value: '2026-01-01T00:00:00Z' },
];
/** The event segment: answered from aggregates, or from timelines for profiles without one. */
const EVENT_SEGMENT: Condition = { event: 'Product Viewed', count: { gte: 3 }, within_last_days: 30 };
const DAY = 86_400_000;

/** A profile's views: `i % 9` of them, one every `1 + i % 13` days back from `i % 5` hours before NOW. */
function viewsOf(i: number): TimelineEvent[] {
  return Array.from({ length: i % 9 }, (_, k) => ({
    messageId: `v${i}-${k}`,
    type: 'track',
    event: 'Product Viewed',
    timestamp: new Date(NOW - (i % 5) * 3_600_000 - k * (1 + (i % 13)) * DAY).toISOString(),
  }));
}

/** The aggregate the stream processor would have kept for those views. */
function activityOf(events: readonly TimelineEvent[]): ProfileState['activity'] {
  const byDay = new Map<number, number>();
  for (const e of events) {
    const day = Math.floor(Date.parse(e.timestamp) / DAY);
    byDay.set(day, (byDay.get(day) ?? 0) + 1);
  }
  const days = [...byDay].sort((a, b) => b[0] - a[0]);
  return { n: days.length ? { 'Product Viewed': encodeDays({ older: 0, days }) } : {} };
}

function syntheticProfile(i: number): ProfileState {
  const p = emptyProfile(`p_${i.toString(16).padStart(24, '0')}`, '2026-01-01T00:00:00Z');
  p.traits = {
    plan: ['free', 'pro', 'team'][i % 3],
    country: ['FR', 'DE', 'US', 'GB'][i % 4],
    email: `person${i}@example.${i % 2 ? 'org' : 'com'}`,
    age: 18 + (i % 50),
    signup: new Date(Date.UTC(2025, 6, 1) + (i % 365) * 86_400_000).toISOString(),
    ...(i % 5 === 0 ? { company: `Company ${i % 100}` } : {}),
  };
  p.computed = {
    first_seen: '2025-06-01T00:00:00Z',
    last_seen: new Date(NOW - (i % 90) * 86_400_000).toISOString(),
    event_counts: { 'Product Viewed': i % 25, 'Order Completed': i % 4 },
    total_revenue: (i % 4) * 180,
    order_count: i % 4,
  };
  p.consent = { marketing: i % 2 === 0 };
  const views = viewsOf(i);
  p.activity = activityOf(views);
  if (views[0] && views[0].timestamp > p.computed.last_seen) p.computed.last_seen = views[0].timestamp;
  return p;
}

// 1. Pure evaluator.
const predicates = SEGMENTS.map(compile);
const profiles = Array.from({ length: Math.min(evaluatorProfiles, 100_000) }, (_, i) => syntheticProfile(i));
let matches = 0;
const t0 = performance.now();
for (let i = 0; i < evaluatorProfiles; i++) {
  const ctx = { profile: profiles[i % profiles.length]!, now: NOW };
  for (const p of predicates) if (p(ctx)) matches++;
}
const seconds = (performance.now() - t0) / 1000;
const evaluations = evaluatorProfiles * predicates.length;
console.log(`evaluator: ${fmt(evaluatorProfiles)} profiles x ${predicates.length} segments`);
console.log(
  `  ${fmt(evaluations / seconds)} profile-segment evaluations/s on one core (goal >= 2,000,000; ${fmt(matches)} matches)`,
);
// The event segment from aggregates alone (what a batch run does before deciding to read a timeline).
const eventTiming = compileTiming(EVENT_SEGMENT);
let fromAggregate = 0;
const t0e = performance.now();
for (let i = 0; i < evaluatorProfiles; i++) {
  const profile: Profile = profiles[i % profiles.length]!;
  if (eventTiming.decideWithoutEvents({ profile, now: NOW }) !== undefined) fromAggregate++;
}
const eventSeconds = (performance.now() - t0e) / 1000;
console.log(
  `  event condition from aggregates: ${fmt(evaluatorProfiles / eventSeconds)} profiles/s, ${fmt((100 * fromAggregate) / evaluatorProfiles, 1)}% decided without a timeline`,
);

// 2. A full local batch run.
// Read units of every DynamoDB call the runner makes (ReturnConsumedCapacity through the client factory).
const meter = new UsageMeter();
meterClients(meter.clientMeter);
const readUnits = (u: ReturnType<UsageMeter['reset']>) =>
  Object.values(u.dynamo).reduce((n, c) => n + c.read, 0);
const writeUnits = (u: ReturnType<UsageMeter['reset']>) =>
  Object.values(u.dynamo).reduce((n, c) => n + c.write, 0);

await withLocalCdp(async (cdp) => {
  meter.paused = true;
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: cdp.endpoints.dynamodb,
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  const ddb = dynamoDbDocumentClient(client);
  const items = Array.from({ length: batchProfiles }, (_, i) => {
    const p = syntheticProfile(i);
    return {
      put: {
        ...keys.profile(p.profileId),
        ...p,
        version: 1,
        gsi1pk: keys.profilePk(p.profileId),
        gsi1sk: 'PROFILE',
      },
    };
  });
  for (let i = 0; i < items.length; i += 1000)
    await batchWrite(ddb, PROFILES_TABLE.localName, items.slice(i, i + 1000));
  const expiresAt = Math.floor(Date.now() / 1000) + 90 * 86_400;
  const timeline = Array.from({ length: batchProfiles }, (_, i) => {
    const profileId = syntheticProfile(i).profileId;
    return viewsOf(i).map((e) => ({ put: timelineItem(profileId, 'bench', e, expiresAt) }));
  }).flat();
  for (let i = 0; i < timeline.length; i += 1000)
    await batchWrite(ddb, TIMELINE_TABLE.localName, timeline.slice(i, i + 1000));
  const store = new SegmentStore(ddb, CONTROL_TABLE.localName, PROFILES_TABLE.localName);
  for (const [i, condition] of [...SEGMENTS, EVENT_SEGMENT].entries())
    await store.create({ name: `Segment ${i}`, condition, active: true });
  meter.paused = false;
  meter.reset();
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  const execution = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, {}, 'bench');
  await execution.done;
  const wall = (performance.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (execution.status !== 'SUCCEEDED') throw new Error(`run failed: ${execution.cause}`);
  const summary = JSON.parse(execution.output!) as {
    profilesEvaluated: number;
    entered: number;
    exited: number;
    updated: number;
    timelinesRead: number;
  };
  console.log(
    `batch run: ${fmt(summary.profilesEvaluated)} profiles x ${SEGMENTS.length + 1} segments in dynalite (${fmt(timeline.length)} timeline events, ${fmt(summary.timelinesRead)} timelines read)`,
  );
  console.log(
    `  wall time ${fmt(wall, 1)} s (${fmt(summary.profilesEvaluated / wall)} profiles/s, ${fmt(summary.entered)} entered)`,
  );
  // Each membership change is one conditional write; with them in flight together, the CPU per request
  // (SDK here, dynalite in its own process) bounds the run, not round trips.
  const writes = summary.entered + summary.exited + summary.updated;
  console.log(
    `  ${fmt(writes)} membership writes (${fmt(writes / wall)}/s); CPU of this process ${fmt((cpu.user + cpu.system) / 1e6, 1)} s`,
  );
  const fullUsage = meter.reset();
  console.log(
    `  DynamoDB: ${fmt(readUnits(fullUsage))} read units (${fmt(readUnits(fullUsage) / batchProfiles, 2)} per profile), ${fmt(writeUnits(fullUsage))} write units`,
  );

  // Incremental runs. Each phase stands for an hour later: the watermark is moved to just before the
  // phase's changes (a real run reads back CHANGE_LOG_MARGIN_MS before the previous run's start,
  // which here would take in the earlier phases too), then `changed` profiles change and the stream
  // processor's listener records them, one change log item per batch of 500 as a Lambda batch would.
  const changeLog = new SegmentChangeLog(ddb, CONTROL_TABLE.localName, PROFILES_TABLE.localName);
  console.log(`incremental runs after a full run over ${fmt(batchProfiles)} profiles:`);
  let offset = 0;
  for (const changed of changedCounts) {
    meter.paused = true;
    const watermark = await changeLog.watermark();
    await changeLog.advance({
      ...watermark!,
      coveredUntil: new Date(Date.now() + CHANGE_LOG_MARGIN_MS - 1_000).toISOString(),
    });
    await new Promise((r) => setTimeout(r, 1_100));
    const ids: string[] = [];
    const puts = Array.from({ length: changed }, (_, k) => {
      const p = syntheticProfile((offset + k * 7) % batchProfiles);
      ids.push(p.profileId);
      p.traits = { ...p.traits, plan: ['free', 'pro', 'team'][(offset + k + 1) % 3] };
      return {
        put: {
          ...keys.profile(p.profileId),
          ...p,
          version: 2,
          gsi1pk: keys.profilePk(p.profileId),
          gsi1sk: 'PROFILE',
        },
      };
    });
    offset += changed;
    for (let i = 0; i < puts.length; i += 1000)
      await batchWrite(ddb, PROFILES_TABLE.localName, puts.slice(i, i + 1000));
    for (let i = 0; i < ids.length; i += 500)
      await changeLog.recordChanged(ids.slice(i, i + 500), new Date());
    meter.paused = false;
    meter.reset();
    const t = performance.now();
    const run = cdp.stepFunctions.start(
      SEGMENT_RUN_STATE_MACHINE.localArn,
      { incremental: true },
      `bench-incremental-${changed}`,
    );
    await run.done;
    if (run.status !== 'SUCCEEDED') throw new Error(`incremental run failed: ${run.cause}`);
    const out = JSON.parse(run.output!) as { mode: string; profilesEvaluated: number };
    const usage = meter.reset();
    console.log(
      `  ${fmt(changed)} changed: ${out.mode}, ${fmt(out.profilesEvaluated)} profiles evaluated in ${fmt((performance.now() - t) / 1000, 1)} s, ${fmt(readUnits(usage))} read units (${fmt(readUnits(usage) / Math.max(1, out.profilesEvaluated), 2)} per profile evaluated; full run ${fmt(readUnits(fullUsage))}), ${fmt(writeUnits(usage))} write units`,
    );
  }

  // Full runs with nothing to change (no membership writes, nothing for activation to read): over the
  // profiles as they are, then over the same profiles written before aggregates existed, whose
  // candidates' timelines are read.
  meter.reset();
  const steadyRun = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, {}, 'bench-steady');
  await steadyRun.done;
  if (steadyRun.status !== 'SUCCEEDED') throw new Error(`run failed: ${steadyRun.cause}`);
  const steadyUsage = meter.reset();
  const steadySummary = JSON.parse(steadyRun.output!) as { timelinesRead: number };
  console.log(
    `steady full run with aggregates: ${fmt(steadySummary.timelinesRead)} timelines read, ${fmt(readUnits(steadyUsage))} read units (${fmt(readUnits(steadyUsage) / batchProfiles, 2)} per profile)`,
  );
  meter.paused = true;
  // As stored now (plan changes of the incremental phases included), less the aggregate.
  const old: Array<{ put: Item }> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: PROFILES_TABLE.localName,
        FilterExpression: 'sk = :p',
        ExpressionAttributeValues: { ':p': 'PROFILE' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const { activity: _a, ...rest } of page.Items ?? []) old.push({ put: rest as Item });
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  for (let i = 0; i < old.length; i += 1000)
    await batchWrite(ddb, PROFILES_TABLE.localName, old.slice(i, i + 1000));
  meter.paused = false;
  meter.reset();
  const oldRun = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, {}, 'bench-without-aggregates');
  await oldRun.done;
  if (oldRun.status !== 'SUCCEEDED') throw new Error(`run failed: ${oldRun.cause}`);
  const oldSummary = JSON.parse(oldRun.output!) as { timelinesRead: number };
  const oldUsage = meter.reset();
  console.log(
    `steady full run without aggregates: ${fmt(oldSummary.timelinesRead)} timelines read, ${fmt(readUnits(oldUsage))} read units (${fmt(readUnits(oldUsage) / batchProfiles, 2)} per profile)`,
  );
  client.destroy();
});
