import * as z from 'zod';

/**
 * Every environment variable a handler may read, by name. The CDK stack sets them on AWS and the
 * local runtime sets the very same names, so the two cannot drift.
 */
export const ENV = {
  profilesTable: 'CDP_PROFILES_TABLE',
  controlTable: 'CDP_CONTROL_TABLE',
  /** Timeline events (optional: without it they live in the profiles table, the layout before it). */
  timelineTable: 'CDP_TIMELINE_TABLE',
  eventsStream: 'CDP_EVENTS_STREAM',
  lakeBucket: 'CDP_LAKE_BUCKET',
  exportsBucket: 'CDP_EXPORTS_BUCKET',
  /** JSON list of allowed CORS origins for the ingest API (`["*"]` allows any). */
  corsOrigins: 'CDP_CORS_ORIGINS',
  /** Days events stay on a profile timeline before DynamoDB TTL removes them. */
  timelineRetentionDays: 'CDP_TIMELINE_RETENTION_DAYS',
  /** Hours a messageId is remembered per source for dedupe (Segment's window is 24 h). */
  dedupeWindowHours: 'CDP_DEDUPE_WINDOW_HOURS',
  /** Optional JSON identity settings: merge limits, blocked values, external id types (IdentityConfigSchema). */
  identityConfig: 'CDP_IDENTITY_CONFIG',
  // The deltas queues' URLs, one variable per destination type: `DELTA_QUEUES[].envVar` (queues.ts).
  /** The batch segmentation state machine, started on demand by the segments API. */
  segmentRunStateMachineArn: 'CDP_SEGMENT_RUN_STATE_MACHINE_ARN',
  /** Where deliveries that can never succeed go, with the reason. */
  activationDlqUrl: 'CDP_ACTIVATION_DLQ_URL',
  /** The deletion job state machine, started by the regulations API. */
  regulationRunStateMachineArn: 'CDP_REGULATION_RUN_STATE_MACHINE_ARN',
  /** Files to import and their errors files. */
  importsBucket: 'CDP_IMPORTS_BUCKET',
  /** The import state machine, started for each file dropped or uploaded. */
  importRunStateMachineArn: 'CDP_IMPORT_RUN_STATE_MACHINE_ARN',
  /** The replay state machine, started by the replays API (`POST /v1/replays`). */
  replayRunStateMachineArn: 'CDP_REPLAY_RUN_STATE_MACHINE_ARN',
  /** Parallel scan segments per batch run. */
  segmentScanSegments: 'CDP_SEGMENT_SCAN_SEGMENTS',
  /** Hours between full batch runs (the safety net) when scheduled runs are incremental. */
  segmentFullRunHours: 'CDP_SEGMENT_FULL_RUN_HOURS',
  /** Glue database of the lake; the compactor moves the `events` view's frontier there (unset locally). */
  lakeDatabase: 'CDP_LAKE_DATABASE',
  /** JSON map: function definition id → deployed function name (the console's overview reads Lambda's IteratorAge by name). */
  overviewFunctionNames: 'CDP_OVERVIEW_FUNCTION_NAMES',
  /** The iterator-age alarm's threshold (`cdp:maxIteratorAgeMinutes`), so the overview flags what the alarm does. */
  maxIteratorAgeMinutes: 'CDP_MAX_ITERATOR_AGE_MINUTES',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and validates a handler's configuration once, at cold start. A missing or malformed variable
 * throws a ConfigError naming the variable and the rule, so a misdeployed function fails loudly on
 * its first invocation instead of half-working.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) picked[key] = env[key];
  const result = schema.safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(config)');
      const value = env[name];
      return value === undefined ? `${name} is not set` : `${name} is invalid: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** A positive whole number given as a string. */
export const positiveInt = () =>
  z
    .string({ error: 'is required' })
    .regex(/^[1-9][0-9]*$/, 'must be a positive whole number')
    .transform(Number);

/** A required, non-empty string variable. */
export const requiredString = () => z.string({ error: 'is required' }).min(1, 'must not be empty');
