/**
 * us-east-1 list prices the cost benchmark multiplies usage by: on-demand capacity (provisioned
 * capacity for the steady-load settings' table), no free tier, no savings plans or reserved capacity. Each price names the page it was read from and when; update them together.
 */
export interface Price {
  /** US dollars per `unit`. */
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
  readonly asOf: string;
}

const AS_OF = '2026-11';

export const PRICES = {
  apiGatewayHttpRequest: {
    usd: 1.0 / 1e6,
    unit: 'HTTP API request (first 300 million a month; each 512 KB of a request is one request)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    asOf: AS_OF,
  },
  apiGatewayHttpRequestOver300M: {
    usd: 0.9 / 1e6,
    unit: 'HTTP API request beyond the first 300 million of a month',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    asOf: AS_OF,
  },
  lambdaRequest: {
    usd: 0.2 / 1e6,
    unit: 'Lambda invocation',
    source: 'https://aws.amazon.com/lambda/pricing/',
    asOf: AS_OF,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second of Lambda duration on arm64 (first 7.5 billion GB-s a month)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    asOf: AS_OF,
  },
  kinesisOnDemandIngestGb: {
    usd: 0.08,
    unit: 'GB ingested, on-demand (each record rounded up to 1 KB)',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    asOf: AS_OF,
  },
  kinesisOnDemandRetrievalGb: {
    usd: 0.04,
    unit: 'GB retrieved per standard consumer, on-demand (each record rounded up to 1 KB)',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    asOf: AS_OF,
  },
  kinesisOnDemandStreamHour: {
    usd: 0.04,
    unit: 'stream-hour, on-demand',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    asOf: AS_OF,
  },
  kinesisShardHour: {
    usd: 0.015,
    unit: 'shard-hour, provisioned (each shard: 1 MB/s or 1,000 records/s in, 2 MB/s out; reads free)',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    asOf: AS_OF,
  },
  kinesisPutPayloadUnit: {
    usd: 0.014 / 1e6,
    unit: 'PUT payload unit, provisioned (each 25 KB of a record)',
    source: 'https://aws.amazon.com/kinesis/data-streams/pricing/',
    asOf: AS_OF,
  },
  dynamoWriteRequestUnit: {
    usd: 0.625 / 1e6,
    unit: 'DynamoDB on-demand write request unit (1 KB)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    asOf: AS_OF,
  },
  dynamoReadRequestUnit: {
    usd: 0.125 / 1e6,
    unit: 'DynamoDB on-demand read request unit (4 KB strongly consistent, 8 KB eventually)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    asOf: AS_OF,
  },
  dynamoProvisionedWriteCapacityUnitHour: {
    usd: 0.00065,
    unit: 'DynamoDB provisioned write capacity unit-hour (1 KB write per second, Standard table class)',
    source: 'https://aws.amazon.com/dynamodb/pricing/provisioned/',
    asOf: AS_OF,
  },
  dynamoProvisionedReadCapacityUnitHour: {
    usd: 0.00013,
    unit: 'DynamoDB provisioned read capacity unit-hour (4 KB strongly consistent read per second, 8 KB eventually)',
    source: 'https://aws.amazon.com/dynamodb/pricing/provisioned/',
    asOf: AS_OF,
  },
  dynamoStorageGbMonth: {
    usd: 0.25,
    unit: 'GB-month of DynamoDB Standard table storage (after the first 25 GB)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    asOf: AS_OF,
  },
  dynamoPitrGbMonth: {
    usd: 0.2,
    unit: 'GB-month of DynamoDB continuous backups (point-in-time recovery), by table size',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    asOf: AS_OF,
  },
  s3PutRequest: {
    usd: 0.005 / 1000,
    unit: 'S3 Standard PUT, COPY, POST or LIST request',
    source: 'https://aws.amazon.com/s3/pricing/',
    asOf: AS_OF,
  },
  s3GetRequest: {
    usd: 0.0004 / 1000,
    unit: 'S3 Standard GET, SELECT or other request',
    source: 'https://aws.amazon.com/s3/pricing/',
    asOf: AS_OF,
  },
  s3StandardGbMonth: {
    usd: 0.023,
    unit: 'GB-month of S3 Standard (first 50 TB)',
    source: 'https://aws.amazon.com/s3/pricing/',
    asOf: AS_OF,
  },
  s3InfrequentAccessGbMonth: {
    usd: 0.0125,
    unit: 'GB-month of S3 Standard-Infrequent Access',
    source: 'https://aws.amazon.com/s3/pricing/',
    asOf: AS_OF,
  },
  s3GlacierInstantGbMonth: {
    usd: 0.004,
    unit: 'GB-month of S3 Glacier Instant Retrieval',
    source: 'https://aws.amazon.com/s3/pricing/',
    asOf: AS_OF,
  },
  logsIngestGb: {
    usd: 0.5,
    unit: 'GB of CloudWatch Logs ingested (Standard class, first 10 TB of Lambda logs a month)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    asOf: AS_OF,
  },
  xrayTraceRecorded: {
    usd: 5.0 / 1e6,
    unit: 'X-Ray trace recorded',
    source: 'https://aws.amazon.com/xray/pricing/',
    asOf: AS_OF,
  },
  stepFunctionsStandardTransition: {
    usd: 0.025 / 1000,
    unit: 'Step Functions Standard state transition',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    asOf: AS_OF,
  },
  sqsRequest: {
    usd: 0.4 / 1e6,
    unit: 'SQS Standard request (each 64 KB chunk is one request)',
    source: 'https://aws.amazon.com/sqs/pricing/',
    asOf: AS_OF,
  },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof PRICES;
