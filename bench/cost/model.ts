/**
 * Turns measured usage into dollars per million events. Pure: the benchmark measures, this prices.
 *
 * The model, in short:
 * - Ingest and processing are priced as measured per event (requests, capacity, bytes, handler time).
 * - Lambda time on AWS = the handler's own time here (wall time minus waiting on emulators), stretched
 *   by the share of a vCPU the function's memory buys (one vCPU at 1,769 MB, proportionally less
 *   below), plus one typical AWS round trip per wait (`sdkLatencyMs`), billed per invocation in whole
 *   milliseconds.
 * - Batch segmentation: `runsPerHour` incremental runs over the people who changed (and those due
 *   by a time window), priced per profile evaluated as measured in an incremental run; the people
 *   who change in an hour are the hour's events over `eventsPerChangedPerson`, plus `dueShare` of
 *   them again for window edges. Once every `fullRunHours` a full run over everyone (the safety
 *   net), whose usage is fitted as `perProfile * profiles + perStoredEvent * storedEvents` from two
 *   measured full runs (short and long histories). Steady state: the timeline holds `retentionHours`
 *   of events from people with `historyPerPerson` events each. Month one: the same people, events
 *   stored for half a month on average.
 * - Storage: the DynamoDB bytes each stored event brings (all items of every table, 100 bytes of
 *   overhead each) for as long as it is kept, and again at the point-in-time recovery price for the
 *   tables that have it (all of them unless `cdp:timelineBackups=false`); the lake's gzip bytes for
 *   1 month in Standard, 5 in Infrequent Access and 6 in Glacier Instant Retrieval (a year of lake at
 *   steady state, half a month in month one).
 */

import { scanSegmentsFor } from '../../core/segments/scan-plan.js';
import type { CapacityTotals, Usage } from './meter.js';
import { PRICES } from './prices.js';

export interface Assumptions {
  /** Steady event rate, for per-hour charges (the stream). */
  readonly eventsPerSecond: number;
  readonly memoryMbByFunction: Readonly<Record<string, number>>;
  /** One AWS round trip per service, replacing the emulator's. */
  readonly sdkLatencyMs: Readonly<Record<string, number>>;
  /**
   * Lambda's own lines per invocation in JSON log format (platform.start, platform.report); 0 with
   * `cdp:platformLogs` off (the default: system log level WARN).
   */
  readonly platformLogBytesPerInvocation: number;
  /**
   * Share of each function's invocations X-Ray records (Lambda's rule: 1 a second and 5% of the rest
   * with active tracing; 0 for a function that only follows an upstream trace, `cdp:tracing`).
   */
  readonly xraySampledShareByFunction: Readonly<Record<string, number>>;
  /** Consumers reading the events stream. */
  readonly streamConsumers: number;
  readonly runsPerHour: number;
  readonly retentionHours: number;
  readonly historyPerPerson: number;
  /**
   * Events an hour brings per person who sends any that hour (a session's events): the hour's events
   * over this are the distinct people an incremental run evaluates. 1 is the worst case.
   */
  readonly eventsPerChangedPerson: number;
  /** Window edges re-evaluated per changed person (people leaving a window without an event). */
  readonly dueShare: number;
  /**
   * Kinds of control items a run writes once whatever its size (`SUMMARY`, `WATERMARK`): priced per run
   * instead of being fitted over the people it read (the meter's write operations end with the kind).
   */
  readonly runOnceWriteKinds?: readonly string[];
  /** Hours between full runs (the safety net, `cdp:segmentFullRunHours`). */
  readonly fullRunHours: number;
  /** The table whose reads grow with people and their history (the rest is per run). */
  readonly profilesTable: string;
  /**
   * Timeline reads (candidates of event conditions) grow with people and their history too, like the
   * profiles table's, rather than being paid once a run.
   */
  readonly timelineTable?: string;
}

/**
 * The stack settings for steady, high-volume traffic, priced in place of the defaults:
 * - `provisioned` (`cdp:timelineCapacity=provisioned`): this table's units are bought as provisioned
 *   capacity, which auto scaling keeps at `targetUtilization` of what is consumed. A unit used once a
 *   second costs the hourly price / 3,600 s, and at 70% utilisation 1/0.7 of that is paid for. Assumes
 *   a load steady enough for auto scaling to follow (it scales out within minutes, in more slowly).
 * - `functionUrl` (`cdp:ingestEndpoint=function-url`): every ingest request goes to the collector's
 *   function URL, which has no charge of its own, so API Gateway's line is gone (Lambda's stays).
 */
export interface SteadyLoadSettings {
  readonly provisioned?: { readonly table: string; readonly targetUtilization: number };
  readonly functionUrl?: boolean;
  /** `cdp:timelineBackups=false`: no point-in-time recovery (continuous backups) on the timeline table. */
  readonly noTimelineBackups?: boolean;
  /**
   * `cdp:streamMode=PROVISIONED`: shards sized for the traffic at this share of their limits (the
   * busiest of records, bytes in and bytes read per second), billed per shard-hour and PUT payload unit.
   */
  readonly provisionedStream?: { readonly targetUtilization: number };
}

export interface CostLine {
  readonly item: string;
  /** Billed quantity per event and its unit, for the table. */
  readonly perEvent: number;
  readonly unit: string;
  readonly usdPerMillion: number;
}

const GB = 1024 ** 3;
const line = (item: string, perEvent: number, unit: string, usdPerUnit: number): CostLine => ({
  item,
  perEvent,
  unit,
  usdPerMillion: perEvent * usdPerUnit * 1e6,
});

/** Memory of a function; usage keys may carry a step after a colon (`SegmentRunner:evaluate`). */
const memoryOf = (key: string, a: Assumptions) => a.memoryMbByFunction[key.split(':')[0]!] ?? 128;

/** AWS round trips of these waits (`service` or `service:table`), at each service's typical latency. */
function waitMs(
  waits: Readonly<Record<string, number>>,
  sdkLatencyMs: Readonly<Record<string, number>>,
  pick: (key: string) => boolean = () => true,
): number {
  return Object.entries(waits).reduce(
    (sum, [key, n]) => sum + (pick(key) ? n * (sdkLatencyMs[key.split(':')[0]!] ?? 10) : 0),
    0,
  );
}

/** Read units of one full page of a Scan (1 MB), eventually consistent. */
const SCAN_PAGE_READ_UNITS = (1024 * 1024) / 4096 / 2;

/**
 * Memory at which a function has the equivalent of one vCPU; Lambda allocates CPU in proportion to
 * memory (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html, read 2026-12-07).
 */
export const MB_PER_VCPU = 1769;

/**
 * Billed Lambda GB-seconds of one function's invocations, with AWS round trips for emulator waits.
 * The handler's own time was measured on a whole core; below 1,769 MB the function gets a fraction of
 * one, so the same work takes proportionally longer (and CPU-bound work costs the same GB-seconds at
 * any memory up to there: half the memory, twice the time). Waiting is billed at the memory set.
 */
export function lambdaGbSeconds(
  totals: Usage['lambda'][string],
  memoryMb: number,
  sdkLatencyMs: Readonly<Record<string, number>>,
): number {
  if (totals.invocations === 0) return 0;
  const ownMs = Math.max(0, totals.wallMs - totals.awaitMs) * Math.max(1, MB_PER_VCPU / memoryMb);
  const awsMs = waitMs(totals.waits, sdkLatencyMs);
  // Billed in whole milliseconds per invocation: round the average up.
  const billedMsPerInvocation = Math.ceil((ownMs + awsMs) / totals.invocations);
  return (totals.invocations * billedMsPerInvocation * memoryMb) / 1024 / 1000;
}

/** A month as the rest of the model counts it (storage months: 90 days are 3). */
const SECONDS_PER_MONTH = 720 * 3600;

/**
 * The average price of an HTTP API request in a month of `millionRequests`: API Gateway bills the first
 * 300 million at one price and the rest at a lower one, so at a steady 1,000 browser requests a second
 * (2.6 billion a month) most are billed at the second.
 */
export function apiGatewayRequestUsd(millionRequests: number): number {
  if (millionRequests <= 0) return PRICES.apiGatewayHttpRequest.usd;
  const first = Math.min(millionRequests, 300);
  const rest = millionRequests - first;
  return (
    (first * PRICES.apiGatewayHttpRequest.usd + rest * PRICES.apiGatewayHttpRequestOver300M.usd) /
    millionRequests
  );
}

/** Itemized cost per event of the traffic a phase sent (`events` events in `apiRequests` requests). */
export function trafficCost(
  usage: Usage,
  events: number,
  apiRequests: number,
  a: Assumptions,
  settings: SteadyLoadSettings = {},
): CostLine[] {
  const per = (n: number) => n / events;
  const lines: CostLine[] = settings.functionUrl
    ? []
    : [
        line(
          'API Gateway HTTP API requests',
          per(apiRequests),
          'requests',
          apiGatewayRequestUsd((per(apiRequests) * a.eventsPerSecond * SECONDS_PER_MONTH) / 1e6),
        ),
      ];
  const invocations = Object.values(usage.lambda).reduce((s, l) => s + l.invocations, 0);
  lines.push(line('Lambda invocations', per(invocations), 'invocations', PRICES.lambdaRequest.usd));
  for (const [fn, totals] of Object.entries(usage.lambda).sort()) {
    const gbs = lambdaGbSeconds(totals, memoryOf(fn, a), a.sdkLatencyMs);
    lines.push(line(`Lambda duration: ${fn}`, per(gbs), 'GB-s', PRICES.lambdaArmGbSecond.usd));
  }
  const traces = Object.entries(usage.lambda).reduce(
    (s, [fn, l]) => s + l.invocations * (a.xraySampledShareByFunction[fn.split(':')[0]!] ?? 0),
    0,
  );
  lines.push(line('X-Ray traces', per(traces), 'traces', PRICES.xrayTraceRecorded.usd));
  const logBytes = usage.logBytes + invocations * a.platformLogBytesPerInvocation;
  lines.push(line('CloudWatch Logs ingested', per(logBytes / GB), 'GB', PRICES.logsIngestGb.usd));
  lines.push(
    ...(settings.provisionedStream
      ? provisionedStreamCost(usage, events, a, settings.provisionedStream.targetUtilization)
      : streamCost(usage, events, a)),
  );
  lines.push(...dynamoCost(usage, events, 'DynamoDB', settings.provisioned));
  lines.push(...s3RequestCost(usage, events));
  return lines;
}

export function streamCost(usage: Usage, events: number, a: Assumptions): CostLine[] {
  const billedGb = usage.kinesis.billedBytes / GB / events;
  return [
    line('Kinesis ingested (1 KB records)', billedGb, 'GB', PRICES.kinesisOnDemandIngestGb.usd),
    line(
      `Kinesis retrieved (${a.streamConsumers} consumers)`,
      billedGb * a.streamConsumers,
      'GB',
      PRICES.kinesisOnDemandRetrievalGb.usd,
    ),
    line(
      `Kinesis stream-hours at ${a.eventsPerSecond} events/s`,
      1 / (a.eventsPerSecond * 3600),
      'stream-hours',
      PRICES.kinesisOnDemandStreamHour.usd,
    ),
  ];
}

/** Shard limits of a provisioned stream: in, per second, and out, shared by its standard consumers. */
export const SHARD_LIMITS = { records: 1000, bytesIn: 1024 * 1024, bytesOut: 2 * 1024 * 1024 } as const;

/**
 * A provisioned stream: the shards the traffic needs at `eventsPerSecond`, each kept at
 * `targetUtilization` of the busiest of its limits (records in, bytes in, bytes its consumers read; a
 * shard's 2 MB/s out is shared by them), and a PUT payload unit per started 25 KB of each record.
 * Reading is not billed.
 */
export function provisionedStreamCost(
  usage: Usage,
  events: number,
  a: Assumptions,
  targetUtilization: number,
): CostLine[] {
  const { records, bytes, payloadUnits } = usage.kinesis;
  const perSecond = a.eventsPerSecond / events;
  const shards = Math.max(
    1,
    Math.ceil(
      Math.max(
        (records * perSecond) / SHARD_LIMITS.records,
        (bytes * perSecond) / SHARD_LIMITS.bytesIn,
        (bytes * perSecond * a.streamConsumers) / SHARD_LIMITS.bytesOut,
      ) / targetUtilization,
    ),
  );
  return [
    line(
      'Kinesis PUT payload units (provisioned)',
      payloadUnits / events,
      'units',
      PRICES.kinesisPutPayloadUnit.usd,
    ),
    line(
      `Kinesis shard-hours (${shards} at ${a.eventsPerSecond} events/s)`,
      shards / (a.eventsPerSecond * 3600),
      'shard-hours',
      PRICES.kinesisShardHour.usd,
    ),
  ];
}

export function dynamoCost(
  usage: Usage,
  events: number,
  label = 'DynamoDB',
  provisioned?: SteadyLoadSettings['provisioned'],
): CostLine[] {
  const lines: CostLine[] = [];
  for (const [target, t] of Object.entries(usage.dynamo).sort()) {
    if (target === provisioned?.table) {
      lines.push(
        ...provisionedCost(`${label} writes: ${target}`, `${label} reads: ${target}`, t, events, provisioned),
      );
      continue;
    }
    if (t.write > 0)
      lines.push(
        line(`${label} writes: ${target}`, t.write / events, 'WRU', PRICES.dynamoWriteRequestUnit.usd),
      );
    if (t.read > 0)
      lines.push(line(`${label} reads: ${target}`, t.read / events, 'RRU', PRICES.dynamoReadRequestUnit.usd));
  }
  return lines;
}

/**
 * A provisioned table's units per event as capacity unit-hours: a unit consumed once a second for an
 * hour is one unit-hour, and auto scaling provisions 1/targetUtilization as much as is consumed.
 */
export function provisionedCost(
  writeItem: string,
  readItem: string,
  units: { readonly write: number; readonly read: number },
  events: number,
  provisioned: NonNullable<SteadyLoadSettings['provisioned']>,
): CostLine[] {
  const unitHours = (n: number) => n / events / provisioned.targetUtilization / 3600;
  const lines: CostLine[] = [];
  if (units.write > 0)
    lines.push(
      line(writeItem, unitHours(units.write), 'WCU-hours', PRICES.dynamoProvisionedWriteCapacityUnitHour.usd),
    );
  if (units.read > 0)
    lines.push(
      line(readItem, unitHours(units.read), 'RCU-hours', PRICES.dynamoProvisionedReadCapacityUnitHour.usd),
    );
  return lines;
}

export function s3RequestCost(usage: Usage, events: number, label = 'S3'): CostLine[] {
  return [
    line(
      `${label} PUT/LIST requests`,
      (usage.s3.put + usage.s3.list) / events,
      'requests',
      PRICES.s3PutRequest.usd,
    ),
    line(`${label} GET requests`, usage.s3.get / events, 'requests', PRICES.s3GetRequest.usd),
  ].filter((l) => l.perEvent > 0);
}

/** One measured batch segment run: its usage, the people and stored events it ran over. */
export interface MeasuredRun {
  readonly usage: Usage;
  readonly profiles: number;
  readonly storedEvents: number;
  /** Events sent since the run before: what can have changed memberships. */
  readonly eventsSinceLastRun: number;
}

/** A measured incremental run: its usage and the profiles it evaluated. */
export interface MeasuredIncrementalRun {
  readonly usage: Usage;
  readonly profilesEvaluated: number;
  /** Events sent in the window the run read (its change log reads follow them). */
  readonly eventsSinceLastRun: number;
}

/** `q = perProfile * profiles + perEvent * storedEvents` through two runs, neither part negative. */
export function fitRun(q1: number, run1: MeasuredRun, q2: number, run2: MeasuredRun) {
  // Per profile: q / profiles = perProfile + perEvent * (storedEvents / profiles).
  const h1 = run1.storedEvents / run1.profiles;
  const h2 = run2.storedEvents / run2.profiles;
  const perEvent = h2 > h1 ? Math.max(0, (q2 / run2.profiles - q1 / run1.profiles) / (h2 - h1)) : 0;
  const perProfile = Math.max(0, q2 / run2.profiles - perEvent * h2);
  return { perProfile, perEvent };
}

/**
 * Segmentation, per event sent, at steady state or in month one. A run's usage has three parts:
 * what grows with the data it reads (the profiles table's reads, the runner's evaluate steps: fitted
 * over profiles and stored events), what follows changes (the profiles table's writes, i.e.
 * memberships, and activation: per event sent since the run before, from the second run), and what
 * every run pays once (definitions and summaries in the control table, the plan and finalize steps).
 */
export function segmentationCost(
  run1: MeasuredRun,
  run2: MeasuredRun,
  a: Assumptions,
  period: 'steady' | 'monthOne',
  incremental?: MeasuredIncrementalRun,
): CostLine[] {
  const storedEventsSteady = a.eventsPerSecond * a.retentionHours * 3600;
  const profiles = storedEventsSteady / a.historyPerPerson;
  const storedEvents = period === 'steady' ? storedEventsSteady : a.eventsPerSecond * 360 * 3600;
  const eventsPerHour = a.eventsPerSecond * 3600;
  // Without a measured incremental run, every scheduled run is a full one (the layout before).
  const fullRunsPerHour = incremental ? 1 / a.fullRunHours : a.runsPerHour;
  const eventsPerFullRun = eventsPerHour / fullRunsPerHour;
  const fitted = (q: (u: Usage) => number) => {
    const { perProfile, perEvent } = fitRun(q(run1.usage), run1, q(run2.usage), run2);
    return (perProfile * profiles + perEvent * storedEvents) / eventsPerFullRun;
  };
  const changes = (q: (u: Usage) => number) => q(run2.usage) / run2.eventsSinceLastRun;
  const once = (q: (u: Usage) => number) => (q(run2.usage) * a.runsPerHour) / eventsPerHour;
  // Incremental runs: profiles evaluated per event, at the assumed people per hour.
  const evaluatedPerEvent = ((1 + a.dueShare) / a.eventsPerChangedPerson) * (incremental ? 1 : 0);
  const perEvaluated = (q: (u: Usage) => number) =>
    incremental ? (q(incremental.usage) / Math.max(1, incremental.profilesEvaluated)) * evaluatedPerEvent : 0;
  const perEventSince = (q: (u: Usage) => number) =>
    incremental ? q(incremental.usage) / incremental.eventsSinceLastRun : 0;
  const isData = (target: string) =>
    target === a.profilesTable || target.startsWith(`${a.profilesTable}/`) || target === a.timelineTable;
  const dynamo = (kind: 'read' | 'write', data: boolean) => (u: Usage) =>
    Object.entries(u.dynamo).reduce((s, [t, c]) => s + (isData(t) === data ? c[kind] : 0), 0);
  // Control writes a run makes once whatever its size (its summary, the watermark): per run, not fitted
  // over the people it read. The meter names write operations by the kind of item they write.
  const onceKinds = a.runOnceWriteKinds ?? [];
  const runOnceWrites = (u: Usage) =>
    Object.entries(u.dynamoOps).reduce(
      (s, [op, c]) => s + (onceKinds.some((k) => op.endsWith(` ${k}`)) ? c.write : 0),
      0,
    );
  const perPersonControlWrites = (u: Usage) => dynamo('write', false)(u) - runOnceWrites(u);
  const onceAnHourWrites = (u: Usage) => (runOnceWrites(u) * a.runsPerHour) / eventsPerHour;
  const gbs =
    (pick: (fn: string) => boolean, options: { withoutWaits?: boolean } = {}) =>
    (u: Usage) =>
      Object.entries(u.lambda).reduce(
        (s, [fn, t]) =>
          s +
          (pick(fn)
            ? lambdaGbSeconds(options.withoutWaits ? { ...t, waits: {} } : t, memoryOf(fn, a), a.sdkLatencyMs)
            : 0),
        0,
      );
  const evaluate = (fn: string) => fn.endsWith(':evaluate');
  const activation = (fn: string) => !fn.includes(':');
  const runOnce = (fn: string) => fn.includes(':') && !evaluate(fn);
  const lines: CostLine[] = [];
  const fullReads =
    fitted(dynamo('read', true)) +
    once(dynamo('read', false)) / (incremental ? a.runsPerHour * a.fullRunHours : 1);
  // Incremental: the profiles table and timeline per profile evaluated; the control table (change
  // log, due index) per event in the window it read.
  const incrementalReads = perEvaluated(dynamo('read', true)) + perEventSince(dynamo('read', false));
  if (incremental) {
    lines.push(
      line(
        'Segmentation: hourly incremental runs, DynamoDB reads',
        incrementalReads,
        'RRU',
        PRICES.dynamoReadRequestUnit.usd,
      ),
      line(
        'Segmentation: hourly incremental runs, due index writes and Lambda',
        perEvaluated(perPersonControlWrites) + onceAnHourWrites(incremental!.usage),
        'WRU',
        PRICES.dynamoWriteRequestUnit.usd,
      ),
    );
  }
  lines.push(
    line(
      incremental
        ? `Segmentation: full run every ${a.fullRunHours} h, DynamoDB reads`
        : 'Segmentation: DynamoDB reads',
      fullReads,
      'RRU',
      PRICES.dynamoReadRequestUnit.usd,
    ),
    line(
      'Segmentation: DynamoDB writes',
      // The full run's control writes (due index entries, summary) follow the people it reads.
      changes(dynamo('write', true)) +
        (incremental
          ? fitted(perPersonControlWrites) + onceAnHourWrites(run2.usage) / (a.runsPerHour * a.fullRunHours)
          : once(dynamo('write', false))),
      'WRU',
      PRICES.dynamoWriteRequestUnit.usd,
    ),
  );
  // A full run's evaluate steps: their own time follows the profiles and events they read (fitted);
  // their waits on the profiles table follow its scan pages (1 MB each, 128 eventually consistent read
  // units), those on the control table and S3 (definitions, summaries, exports) come once a run.
  // Fitted per profile, the few round trips of a run over 50 profiles were multiplied by millions.
  const evaluateWaitGbs = (u: Usage, pick: (key: string) => boolean) =>
    Object.entries(u.lambda).reduce(
      (s, [fn, t]) =>
        s + (evaluate(fn) ? (waitMs(t.waits, a.sdkLatencyMs, pick) * memoryOf(fn, a)) / 1024 / 1000 : 0),
      0,
    );
  // Wait keys: `service`, or `dynamodb:<table>`.
  const tableOf = (key: string) => (key.startsWith('dynamodb:') ? key.slice('dynamodb:'.length) : undefined);
  const onData = (key: string) => tableOf(key) !== undefined && isData(tableOf(key)!);
  const onControl = (key: string) => tableOf(key) !== undefined && !isData(tableOf(key)!);
  const pagesMeasured = Math.max(
    1,
    Object.entries(run2.usage.dynamoOps).reduce(
      (n, [op, c]) => n + (op.startsWith('Scan ') && isData(op.slice('Scan '.length)) ? c.requests : 0),
      0,
    ),
  );
  const pagesPerEvent = fitted(dynamo('read', true)) / SCAN_PAGE_READ_UNITS;
  const fullEvaluateGbs =
    fitted(gbs(evaluate, { withoutWaits: true })) +
    (evaluateWaitGbs(run2.usage, onData) / pagesMeasured) * pagesPerEvent +
    evaluateWaitGbs(run2.usage, (k) => !onData(k)) / eventsPerFullRun;
  // An incremental run's waits on the control table (its change log, due index, definitions) follow
  // the events in the window it reads, like those reads themselves; the rest follows the profiles it
  // evaluates. Priced per profile, the change log's ~85 Queries of a run over 50 profiles made most of
  // this line in a small benchmark, and a million times as much at scale.
  const controlWaitGbs = (u: Usage) => evaluateWaitGbs(u, onControl);
  const incrementalEvaluateGbs =
    perEvaluated((u) => Math.max(0, gbs(evaluate)(u) - controlWaitGbs(u))) + perEventSince(controlWaitGbs);
  lines.push(
    line(
      'Segmentation: Lambda duration',
      fullEvaluateGbs + incrementalEvaluateGbs + changes(gbs(activation)) + once(gbs(runOnce)),
      'GB-s',
      PRICES.lambdaArmGbSecond.usd,
    ),
  );
  // Each child (scan segment, or shard of an incremental run) loops runner calls of at most 10 minutes.
  const scanSegments = scanSegmentsFor(profiles * 3, 8);
  const runnerMemoryGb = (a.memoryMbByFunction.SegmentRunner ?? 1024) / 1024;
  const fullEvaluations = Math.max(
    scanSegments,
    Math.ceil((fullEvaluateGbs * eventsPerFullRun) / runnerMemoryGb / 600),
  );
  const incEvaluations = incremental
    ? Math.max(
        scanSegments,
        Math.ceil((incrementalEvaluateGbs * eventsPerHour) / a.runsPerHour / runnerMemoryGb / 600),
      )
    : 0;
  const invocationsPerHour =
    (fullEvaluations + 2) * fullRunsPerHour + (incremental ? (incEvaluations + 2) * a.runsPerHour : 0);
  const transitionsPerHour =
    (3 + 2 * fullEvaluations + scanSegments) * fullRunsPerHour +
    (incremental ? (3 + 2 * incEvaluations + scanSegments) * a.runsPerHour : 0);
  lines.push(
    line(
      'Segmentation: Lambda invocations',
      invocationsPerHour / eventsPerHour,
      'invocations',
      PRICES.lambdaRequest.usd,
    ),
    line(
      'Segmentation: Step Functions transitions',
      transitionsPerHour / eventsPerHour,
      'transitions',
      PRICES.stepFunctionsStandardTransition.usd,
    ),
  );
  return lines;
}

/** Storage each event brings for as long as it is kept (see the model above). */
export function storageCost(
  dynamo: { readonly bytesPerStoredEvent: number; readonly backedUpBytesPerStoredEvent: number },
  lakeBytesPerEvent: number,
  a: Assumptions,
  period: 'steady' | 'monthOne',
): CostLine[] {
  const months = period === 'steady' ? a.retentionHours / 720 : 0.5;
  const lakeGbMonths = lakeBytesPerEvent / GB;
  const lakeUsd =
    period === 'steady'
      ? PRICES.s3StandardGbMonth.usd +
        5 * PRICES.s3InfrequentAccessGbMonth.usd +
        6 * PRICES.s3GlacierInstantGbMonth.usd
      : 0.5 * PRICES.s3StandardGbMonth.usd;
  return [
    line(
      'DynamoDB storage',
      (dynamo.bytesPerStoredEvent / GB) * months,
      'GB-months',
      PRICES.dynamoStorageGbMonth.usd,
    ),
    // Continuous backups are billed on the size of each table that has them, for as long as it does.
    line(
      'DynamoDB point-in-time recovery',
      (dynamo.backedUpBytesPerStoredEvent / GB) * months,
      'GB-months',
      PRICES.dynamoPitrGbMonth.usd,
    ),
    line('S3 lake storage', lakeGbMonths, 'GB (priced over its months)', lakeUsd),
  ];
}

export const totalPerMillion = (lines: readonly CostLine[]) => lines.reduce((s, l) => s + l.usdPerMillion, 0);

/**
 * The items whose cost differs between two pricings of the same usage (an item one of them lacks
 * costs 0 there), in the order they first appear: what a setting changes, for a small table.
 */
export function changedItems(before: readonly CostLine[], after: readonly CostLine[]): string[] {
  const cost = (lines: readonly CostLine[], item: string) =>
    lines.find((l) => l.item === item)?.usdPerMillion ?? 0;
  const items = [...new Set([...before, ...after].map((l) => l.item))];
  return items.filter((item) => Math.abs(cost(before, item) - cost(after, item)) > 1e-9);
}

/** A stream subscription as priced: its function, batch size and batching window. */
export interface ConsumerBatching {
  readonly functionId: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
}

/**
 * Stream consumers here are invoked as fast as the local poller finds records, in far smaller batches
 * than Lambda makes at a steady rate (each shard's records over the batching window, up to the batch
 * size). This rescales their invocations, and what they do once per invocation, to what Lambda would
 * do at `eventsPerSecond` over `shards` shards: the objects the lake writes, the round trips, the
 * lines they log (a summary per batch), the DynamoDB requests made once per batch (`perInvocation`:
 * counter reads, the change log item). The change log item lists the batch's profiles, so it grows
 * with the batch: priced as the measured bytes per event times the events in Lambda's batch, an upper
 * bound (a person with several events in one batch is listed once). Handler time stays as measured.
 */
export function rebatchConsumers(
  usage: Usage,
  events: number,
  consumers: readonly ConsumerBatching[],
  eventsPerSecond: number,
  shards: number,
  lakeWriterId = 'LakeWriter',
): Usage {
  const lambda = structuredClone(usage.lambda);
  const s3 = { ...usage.s3 };
  const dynamo = structuredClone(usage.dynamo);
  const dynamoOps = structuredClone(usage.dynamoOps);
  let logBytes = usage.logBytes;
  for (const c of consumers) {
    const measured = lambda[c.functionId];
    if (!measured || measured.invocations === 0) continue;
    const perBatch = Math.max(
      1,
      Math.min(c.batchSize, (eventsPerSecond / shards) * Math.max(1, c.maxBatchingWindowSeconds)),
    );
    const onAws = events / perBatch;
    const ratio = onAws / measured.invocations;
    // Traffic phases put nothing in S3 but lake objects (a quarantined record would be rare).
    if (c.functionId === lakeWriterId) s3.put *= Math.min(1, ratio);
    // Waits scale with invocations too: a batch makes about as many round trips, whatever its size.
    measured.waits = Object.fromEntries(Object.entries(measured.waits).map(([k, n]) => [k, n * ratio]));
    logBytes += (usage.logBytesByFunction[c.functionId] ?? 0) * (ratio - 1);
    const once = usage.perInvocation[c.functionId];
    if (once) {
      const written = Object.values(once.dynamoOps).filter((t) => t.write > 0);
      const writeRequests = written.reduce((n, t) => n + t.requests, 0);
      const writeUnits = written.reduce((n, t) => n + t.write, 0);
      // Each item as large as the measured ones times how many more events Lambda's batch holds.
      const bytesOnAws = writeRequests
        ? (once.writtenBytes / writeRequests) * (perBatch / (events / measured.invocations))
        : 0;
      const unitsOnAws = writeRequests * ratio * Math.max(1, Math.ceil(bytesOnAws / 1024));
      const writeFactor = writeUnits ? unitsOnAws / writeUnits : ratio;
      const rescale = (into: Record<string, CapacityTotals>, from: Record<string, CapacityTotals>) => {
        for (const [key, t] of Object.entries(from)) {
          const total = into[key];
          if (!total) continue;
          total.requests += t.requests * (ratio - 1);
          total.read += t.read * (ratio - 1);
          total.write += t.write * (writeFactor - 1);
        }
      };
      rescale(dynamo, once.dynamo);
      rescale(dynamoOps, once.dynamoOps);
    }
    measured.invocations = onAws;
  }
  return { ...usage, lambda, s3, dynamo, dynamoOps, logBytes };
}
