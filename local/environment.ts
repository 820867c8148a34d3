import { BUCKETS } from '../resources/buckets.js';
import { STREAMS } from '../resources/streams.js';
import { TABLES } from '../resources/tables.js';

export interface EmulatorEndpoints {
  readonly dynamodb: string;
  readonly kinesis: string;
  readonly s3: string;
}

/**
 * The environment handlers see locally: the same variable names the CDK stack sets, pointing at the
 * local resource names, plus the SDK's standard endpoint overrides for the emulators.
 */
export function localEnvironment(endpoints: EmulatorEndpoints, dataDir: string): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    // s3rver accepts only its built-in key pair; dynalite and kinesis-local accept any.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    POWERTOOLS_LOG_LEVEL: process.env.CDP_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_DEV: 'false',
    // Metrics are CloudWatch's (embedded metric format); locally they would only be console noise.
    POWERTOOLS_METRICS_DISABLED: 'true',
    CDP_LOCAL_DATA_DIR: dataDir,
    CDP_CORS_ORIGINS: process.env.CDP_CORS_ORIGINS ?? '["*"]',
    CDP_TIMELINE_RETENTION_DAYS: '90',
  };
  for (const t of TABLES) env[t.envVar] = t.localName;
  for (const s of STREAMS) env[s.envVar] = s.localName;
  for (const b of BUCKETS) env[b.envVar] = b.localName;
  return env;
}
