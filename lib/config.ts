import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { IdentityConfigSchema } from '../core/identity/identifiers.js';
import type { AppFlowImport } from './imports/imports.js';

export const LAMBDA_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LambdaLogLevel = (typeof LAMBDA_LOG_LEVELS)[number];
export const TRACING_MODES = ['all', 'control-plane', 'off'] as const;
export type TracingMode = (typeof TRACING_MODES)[number];
export const TIMELINE_CAPACITY_MODES = ['on-demand', 'provisioned'] as const;
export type TimelineCapacityMode = (typeof TIMELINE_CAPACITY_MODES)[number];
export const INGEST_ENDPOINTS = ['http-api', 'function-url'] as const;
export type IngestEndpoint = (typeof INGEST_ENDPOINTS)[number];

/** Capacity units auto scaling keeps a provisioned table between. */
export interface CapacityRange {
  readonly min: number;
  readonly max: number;
}

/**
 * DynamoDB's default quota of capacity units per table (and the most auto scaling may ask for
 * without a quota increase).
 */
export const MAX_TABLE_CAPACITY_UNITS = 40_000;
/** Application Auto Scaling's bounds for a DynamoDB target utilization. */
export const TARGET_UTILIZATION_BOUNDS = { min: 20, max: 90 } as const;

/** Whether a function samples traces of its own under `cdp:tracing` (the cost model uses it too). */
export function tracesOwnInvocations(
  definition: { readonly perEvent?: boolean },
  mode: TracingMode,
): boolean {
  return mode === 'all' || (mode === 'control-plane' && !definition.perEvent);
}

/** Deployment choices, from stack props or `cdk.json` context (`cdp:*` keys). */
export interface CdpSettings {
  /** `ON_DEMAND` (default) scales by itself; `PROVISIONED` uses `shardCount`. */
  readonly streamMode: 'ON_DEMAND' | 'PROVISIONED';
  readonly shardCount: number;
  readonly streamRetentionHours: number;
  /** `retain` (default) keeps tables, buckets, streams and keys when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  readonly timelineRetentionDays: number;
  /** Hours a messageId is remembered per source for dedupe. */
  readonly dedupeWindowHours: number;
  /** Minutes between scheduled batch segment runs. */
  readonly segmentScheduleMinutes: number;
  /** Parallel scan segments (and Map concurrency) of a batch segment run. */
  readonly segmentScanSegments: number;
  /** Hours between full batch segment runs; the scheduled runs in between are incremental. */
  readonly segmentFullRunHours: number;
  /**
   * Identity resolution settings (merge limits per identifier type, blocked values, external id types,
   * priority); see `IdentityConfigSchema`. Defaults: 1 user_id, 5 emails, unlimited anonymous ids.
   */
  readonly identity?: Record<string, unknown>;
  /** Ingest API stage throttling. */
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** Allowed browser origins for the ingest API. */
  readonly corsOrigins: readonly string[];
  readonly logRetentionDays: number;
  /** Optional WAF rate limit per client IP per 5 minutes, via CloudFront in front of the API (us-east-1). */
  readonly wafRateLimit?: number;
  /**
   * Lake buffering, like Firehose's size and time hints, within what a Lambda Kinesis subscription
   * allows: up to this many records (at most 10,000; Lambda also caps a batch at 6 MB) or this many
   * seconds (at most 300), whichever comes first, make one object per partition per shard.
   */
  readonly lakeBufferRecords: number;
  readonly lakeBufferSeconds: number;
  /** Days before raw lake objects move to S3 Infrequent Access, then to Glacier Instant Retrieval. */
  readonly lakeInfrequentAccessDays: number;
  readonly lakeGlacierDays: number;
  /** Athena workgroup cutoff: a query that would scan more than this many GB is cancelled. */
  readonly athenaBytesScannedCutoffGb: number;
  /** Alarms fire when a stream consumer is this many minutes behind the stream. */
  readonly maxIteratorAgeMinutes: number;
  /** Optional address subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /** Optional custom domain for the API (`cdp:domainName` + `cdp:certificateArn`). */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /**
   * Ship source maps and run with `--enable-source-maps` (readable stack traces). Off by default: it
   * adds about a third to every cold start and makes bundles larger.
   */
  readonly sourceMaps: boolean;
  /**
   * Lambda application log level (Lambda filters what handlers print, Powertools follows it). INFO by
   * default; WARN keeps only what needs attention.
   */
  readonly logLevel: LambdaLogLevel;
  /**
   * Lambda's own START/REPORT lines (about 600 bytes per invocation, so per browser event on the
   * collector). Off by default (system log level WARN): durations and errors are in Lambda's metrics.
   */
  readonly platformLogs: boolean;
  /**
   * X-Ray: `all` traces every function (Lambda samples 1 a second and 5% of the rest); `control-plane`
   * (default) traces everything except the per-event functions (collector, profile processor, lake
   * writer), which only follow an upstream trace; `off` traces nothing.
   */
  readonly tracing: TracingMode;
  /** Optional AppFlow flows from SaaS connector profiles into the imports prefix (`cdp:appFlows`, JSON). */
  readonly appFlows?: readonly AppFlowImport[];
  /**
   * The timeline table's capacity: `on-demand` (default), or `provisioned` with target-tracking auto
   * scaling on writes and reads. Only the timeline: its load follows the event rate (one write per
   * event), while the profiles table takes segment runs' bursty scans that auto scaling would throttle.
   */
  readonly timelineCapacity: TimelineCapacityMode;
  /**
   * Point-in-time recovery (continuous backups) on the timeline table: `true` (default), like every
   * table. `false` saves $0.20 per GB-month of timeline (the CDP's largest table, about $0.13 per
   * million events kept 90 days); the timeline is then recovered by rebuilding it from the lake, which
   * holds every event (`npm run cdp -- rebuild`), not restored to a point in time.
   */
  readonly timelineBackups: boolean;
  /** Provisioned timeline only: write and read capacity units auto scaling keeps between. */
  readonly timelineWriteCapacity: CapacityRange;
  readonly timelineReadCapacity: CapacityRange;
  /** Provisioned timeline only: percent of provisioned capacity auto scaling aims to use (20-90). */
  readonly timelineTargetUtilization: number;
  /**
   * `http-api` (default): events arrive through the HTTP API only. `function-url` also gives the
   * collector a Lambda function URL, which has no per-request charge (API Gateway's is $1 per million).
   */
  readonly ingestEndpoint: IngestEndpoint;
  /**
   * Optional reserved concurrency of the collector: the most requests it handles at once, on every
   * endpoint. With the function URL, which has no stage throttling, it is the ingest rate limit
   * (Lambda answers 429 above it); without it the collector can take the account's whole concurrency.
   */
  readonly collectorReservedConcurrency?: number;
}

export const DEFAULT_SETTINGS: CdpSettings = {
  streamMode: 'ON_DEMAND',
  shardCount: 2,
  streamRetentionHours: 24,
  removalPolicy: RemovalPolicy.RETAIN,
  timelineRetentionDays: 90,
  dedupeWindowHours: 24,
  segmentScheduleMinutes: 60,
  segmentScanSegments: 8,
  segmentFullRunHours: 24,
  throttleRateLimit: 5_000,
  throttleBurstLimit: 10_000,
  corsOrigins: ['*'],
  logRetentionDays: 30,
  lakeBufferRecords: 10_000,
  lakeBufferSeconds: 60,
  lakeInfrequentAccessDays: 30,
  lakeGlacierDays: 180,
  athenaBytesScannedCutoffGb: 10,
  maxIteratorAgeMinutes: 5,
  sourceMaps: false,
  logLevel: 'INFO',
  platformLogs: false,
  tracing: 'control-plane',
  timelineCapacity: 'on-demand',
  timelineBackups: true,
  timelineWriteCapacity: { min: 100, max: 10_000 },
  timelineReadCapacity: { min: 100, max: 10_000 },
  timelineTargetUtilization: 70,
  ingestEndpoint: 'http-api',
};

/** Lambda's own bounds for a Kinesis subscription; beyond them a deploy would fail late, at CloudFormation time. */
const UPPER_BOUNDS: Partial<Record<keyof CdpSettings, number>> = {
  lakeBufferRecords: 10_000,
  lakeBufferSeconds: 300,
};

function contextValue(scope: Construct, key: string): unknown {
  return scope.node.tryGetContext(`cdp:${key}`);
}

/** Settings from `cdk.json` / `-c cdp:key=value`, validated so a typo fails synth with a clear message. */
export function settingsFromContext(scope: Construct): Partial<CdpSettings> {
  const out: Record<string, unknown> = {};
  const mode = contextValue(scope, 'streamMode');
  if (mode !== undefined) {
    if (mode !== 'ON_DEMAND' && mode !== 'PROVISIONED')
      throw new Error(`cdp:streamMode must be ON_DEMAND or PROVISIONED, got ${String(mode)}`);
    out.streamMode = mode;
  }
  for (const key of [
    'shardCount',
    'streamRetentionHours',
    'timelineRetentionDays',
    'dedupeWindowHours',
    'segmentScheduleMinutes',
    'segmentScanSegments',
    'segmentFullRunHours',
    'wafRateLimit',
    'throttleRateLimit',
    'throttleBurstLimit',
    'logRetentionDays',
    'lakeBufferRecords',
    'lakeBufferSeconds',
    'lakeInfrequentAccessDays',
    'lakeGlacierDays',
    'athenaBytesScannedCutoffGb',
    'maxIteratorAgeMinutes',
    'timelineTargetUtilization',
    'collectorReservedConcurrency',
  ] as const) {
    const v = contextValue(scope, key);
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`cdp:${key} must be a positive number, got ${String(v)}`);
    out[key] = n;
  }
  const removal = contextValue(scope, 'removalPolicy');
  if (removal !== undefined) {
    if (removal !== 'retain' && removal !== 'destroy')
      throw new Error(`cdp:removalPolicy must be retain or destroy, got ${String(removal)}`);
    out.removalPolicy = removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  }
  const origins = contextValue(scope, 'corsOrigins');
  if (origins !== undefined)
    out.corsOrigins = Array.isArray(origins) ? origins.map(String) : String(origins).split(',');
  const identity = contextValue(scope, 'identity');
  if (identity !== undefined) {
    const parsed = typeof identity === 'string' ? (JSON.parse(identity) as unknown) : identity;
    const result = IdentityConfigSchema.safeParse(parsed);
    if (!result.success)
      throw new Error(
        `cdp:identity is invalid: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    out.identity = parsed as Record<string, unknown>;
  }
  const alarmEmail = contextValue(scope, 'alarmEmail');
  if (alarmEmail !== undefined) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(String(alarmEmail)))
      throw new Error(`cdp:alarmEmail must be an email address, got ${String(alarmEmail)}`);
    out.alarmEmail = String(alarmEmail);
  }
  // `-c cdp:key=true` arrives as a string, cdk.json as a boolean.
  for (const key of ['sourceMaps', 'platformLogs', 'timelineBackups'] as const) {
    const v = contextValue(scope, key);
    if (v === undefined) continue;
    if (v !== true && v !== false && v !== 'true' && v !== 'false')
      throw new Error(`cdp:${key} must be true or false, got ${String(v)}`);
    out[key] = v === true || v === 'true';
  }
  const choices = [
    ['logLevel', LAMBDA_LOG_LEVELS],
    ['tracing', TRACING_MODES],
    ['timelineCapacity', TIMELINE_CAPACITY_MODES],
    ['ingestEndpoint', INGEST_ENDPOINTS],
  ] as const;
  for (const [key, allowed] of choices) {
    const v = contextValue(scope, key);
    if (v === undefined) continue;
    if (!(allowed as readonly unknown[]).includes(v))
      throw new Error(`cdp:${key} must be one of ${allowed.join(', ')}, got ${String(v)}`);
    out[key] = v;
  }
  for (const key of ['timelineWriteCapacity', 'timelineReadCapacity'] as const) {
    const v = contextValue(scope, key);
    if (v !== undefined) out[key] = capacityRangeFrom(key, v);
  }
  const appFlows = contextValue(scope, 'appFlows');
  if (appFlows !== undefined)
    out.appFlows = parseAppFlows(typeof appFlows === 'string' ? JSON.parse(appFlows) : appFlows);
  const domainName = contextValue(scope, 'domainName');
  const certificateArn = contextValue(scope, 'certificateArn');
  if ((domainName === undefined) !== (certificateArn === undefined))
    throw new Error('cdp:domainName and cdp:certificateArn must be set together');
  if (domainName !== undefined)
    out.customDomain = { domainName: String(domainName), certificateArn: String(certificateArn) };
  return out as Partial<CdpSettings>;
}

/** Checks that hold whether a setting came from context or from props. */
export function validateSettings(settings: CdpSettings): CdpSettings {
  for (const [key, max] of Object.entries(UPPER_BOUNDS))
    if ((settings[key as keyof CdpSettings] as number) > max)
      throw new Error(`cdp:${key} must be at most ${max}, got ${String(settings[key as keyof CdpSettings])}`);
  if (settings.lakeGlacierDays <= settings.lakeInfrequentAccessDays)
    throw new Error('cdp:lakeGlacierDays must be greater than cdp:lakeInfrequentAccessDays');
  const concurrency = settings.collectorReservedConcurrency;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1))
    throw new Error(
      `cdp:collectorReservedConcurrency must be a whole number of at least 1, got ${concurrency}`,
    );
  checkCapacityRange('timelineWriteCapacity', settings.timelineWriteCapacity);
  checkCapacityRange('timelineReadCapacity', settings.timelineReadCapacity);
  const target = settings.timelineTargetUtilization;
  const { min, max } = TARGET_UTILIZATION_BOUNDS;
  if (!Number.isFinite(target) || target < min || target > max)
    throw new Error(`cdp:timelineTargetUtilization must be a percent from ${min} to ${max}, got ${target}`);
  return settings;
}

/**
 * `{"min":100,"max":10000}` from cdk.json (an object) or `-c` (a JSON string); the bounds are checked
 * by `validateSettings`, so props get the same rules.
 */
function capacityRangeFrom(key: string, value: unknown): CapacityRange {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  const range = (parsed ?? {}) as Record<string, unknown>;
  if (typeof parsed !== 'object' || range.min === undefined || range.max === undefined)
    throw new Error(`cdp:${key} must be {"min":<units>,"max":<units>}, got ${String(value)}`);
  return { min: Number(range.min), max: Number(range.max) };
}

function checkCapacityRange(key: string, range: CapacityRange): void {
  const { min, max } = range;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min)
    throw new Error(`cdp:${key} must have whole numbers 1 <= min <= max, got min ${min}, max ${max}`);
  if (max > MAX_TABLE_CAPACITY_UNITS)
    throw new Error(
      `cdp:${key} max must be at most ${MAX_TABLE_CAPACITY_UNITS} (DynamoDB's default quota per table), got ${max}`,
    );
}

const APPFLOW_CONNECTORS = ['Salesforce', 'Zendesk', 'ServiceNow', 'Marketo'];

/** `cdp:appFlows`: each flow checked here, so a typo fails synth naming the flow and the field. */
export function parseAppFlows(value: unknown): AppFlowImport[] {
  if (!Array.isArray(value)) throw new Error('cdp:appFlows must be a JSON list of flows');
  return value.map((flow, i) => {
    const f = (flow ?? {}) as Record<string, unknown>;
    const fail = (field: string, rule: string) => {
      throw new Error(`cdp:appFlows[${i}].${field} ${rule}`);
    };
    if (typeof f.name !== 'string' || !/^[A-Za-z0-9-]{1,40}$/.test(f.name))
      fail('name', 'must be 1-40 letters, digits or dashes');
    if (!APPFLOW_CONNECTORS.includes(String(f.connectorType)))
      fail('connectorType', `must be one of ${APPFLOW_CONNECTORS.join(', ')}`);
    for (const field of ['connectorProfileName', 'object', 'sourceId'])
      if (typeof f[field] !== 'string' || !f[field]) fail(field, 'is required');
    if (!Array.isArray(f.fields) || !f.fields.length || !f.fields.every((x) => typeof x === 'string'))
      fail('fields', 'must be a non-empty list of field names');
    if (
      typeof f.scheduleExpression !== 'string' ||
      !/^rate\(\d+(minutes|hours|days)\)$/.test(f.scheduleExpression)
    )
      fail('scheduleExpression', 'must be like rate(1hours), rate(30minutes) or rate(1days)');
    return f as unknown as AppFlowImport;
  });
}
