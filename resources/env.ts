import { z } from 'zod';

/**
 * Every environment variable a handler may read, by name. The CDK stack sets them on AWS and the
 * local runtime sets the very same names, so the two cannot drift.
 */
export const ENV = {
  profilesTable: 'CDP_PROFILES_TABLE',
  controlTable: 'CDP_CONTROL_TABLE',
  eventsStream: 'CDP_EVENTS_STREAM',
  lakeBucket: 'CDP_LAKE_BUCKET',
  exportsBucket: 'CDP_EXPORTS_BUCKET',
  /** JSON list of allowed CORS origins for the ingest API (`["*"]` allows any). */
  corsOrigins: 'CDP_CORS_ORIGINS',
  /** Days events stay on a profile timeline before DynamoDB TTL removes them. */
  timelineRetentionDays: 'CDP_TIMELINE_RETENTION_DAYS',
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

/** A required, non-empty string variable. */
export const requiredString = () => z.string({ error: 'is required' }).min(1, 'must not be empty');
