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

/*
 * Configuration is read without zod. Variables are strings, and the rules are few (required, optional,
 * positive whole numbers, a few JSON documents); building and running the first zod object schema at
 * cold start compiles zod's code, 3-8 ms of every function's init (README, "Cold starts").
 */

/** What a rule makes of one variable: its value, or the rule it breaks. */
export type Checked<T> = { ok: true; value: T } | { ok: false; rule: string };

/** How one variable is read: `raw` is its text, undefined when it is not set. */
export type Rule<T> = (raw: string | undefined) => Checked<T>;

/** The configuration a set of rules gives, typed variable by variable. */
export type ConfigOf<R extends Record<string, Rule<unknown>>> = {
  [K in keyof R]: R[K] extends Rule<infer T> ? T : never;
};

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const broken = (rule: string): Checked<never> => ({ ok: false, rule });

/**
 * Reads and validates a handler's configuration once, at cold start. Every missing or malformed
 * variable is named with the rule it breaks, in one ConfigError, so a misdeployed function fails
 * loudly on its first invocation instead of half-working.
 */
export function loadConfig<R extends Record<string, Rule<unknown>>>(
  rules: R,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<R> {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    const raw = env[name];
    const checked = rule(raw);
    if (checked.ok) config[name] = checked.value;
    else problems.push(raw === undefined ? `${name} is not set` : `${name} is invalid: ${checked.rule}`);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return config as ConfigOf<R>;
}

/** Any string, the empty one included. */
export const anyString: Rule<string> = (raw) => (raw === undefined ? broken('is required') : ok(raw));

/** A non-empty string. */
export const nonEmptyString: Rule<string> = (raw) =>
  raw === undefined ? broken('is required') : raw === '' ? broken('must not be empty') : ok(raw);

/** A positive whole number, written in plain digits (`25`, not `+25`, `2.5e1` or ` 25`). */
export const positiveInt: Rule<number> = (raw) =>
  raw === undefined
    ? broken('is required')
    : /^[1-9][0-9]*$/.test(raw)
      ? ok(Number(raw))
      : broken('must be a positive whole number');

/** A whole number, zero included, in plain digits; `unit` names what it counts in the rule. */
export const wholeNumber =
  (unit?: string): Rule<number> =>
  (raw) =>
    raw === undefined
      ? broken('is required')
      : /^[0-9]+$/.test(raw)
        ? ok(Number(raw))
        : broken(unit ? `must be a whole number of ${unit}` : 'must be a whole number');

/** A positive number (fractions allowed, as JavaScript reads numbers); `unit` names what it counts. */
export const positiveNumber =
  (unit: string): Rule<number> =>
  (raw) => {
    if (raw === undefined) return broken('is required');
    const value = Number(raw);
    return Number.isFinite(value) && value > 0 ? ok(value) : broken(`must be a positive number of ${unit}`);
  };

/**
 * A string made into a value by `read`, which throws when the text is not what it must be; the rule
 * names what it must be, followed by why it is not.
 */
export const readWith =
  <T>(read: (text: string) => T, rule: string): Rule<T> =>
  (raw) => {
    if (raw === undefined) return broken('is required');
    try {
      return ok(read(raw));
    } catch (err) {
      return broken(`${rule}: ${(err as Error).message}`);
    }
  };

/** A JSON document, made into a value by `read` (which throws when the document is not what it must be). */
export const jsonDocument = <T>(read: (document: unknown) => T, rule: string): Rule<T> =>
  readWith((text) => read(JSON.parse(text)), rule);

/** For `jsonDocument`: an object whose every value is a string. */
export function stringMap(document: unknown): Record<string, string> {
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    throw new Error('not an object');
  for (const [key, value] of Object.entries(document))
    if (typeof value !== 'string') throw new Error(`${key} is not a string`);
  return document as Record<string, string>;
}

/** `rule`, or undefined when the variable is not set. */
export const optional =
  <T>(rule: Rule<T>): Rule<T | undefined> =>
  (raw) =>
    raw === undefined ? ok(undefined) : rule(raw);

/** `rule`, or `value` when the variable is not set. */
export const withDefault =
  <T>(rule: Rule<T>, value: T): Rule<T> =>
  (raw) =>
    raw === undefined ? ok(value) : rule(raw);
