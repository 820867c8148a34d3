import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROCESS_STREAM_CONSUMERS } from '../../resources/functions/index.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { policyStatements, type SynthesizedCdp, synthesizeCdp } from '../support/cdk.js';

describe('CdpStack', () => {
  let cdp: SynthesizedCdp;
  beforeAll(() => {
    cdp = synthesizeCdp();
  });

  it('passes the cdk-nag AwsSolutions checks (or each exception is suppressed with a reason)', () => {
    expect(cdp.nagErrors).toEqual([]);
  });

  it('defines the events stream on-demand by default, encrypted with the customer-managed key', () => {
    cdp.template.resourceCountIs('AWS::Kinesis::Stream', 1);
    cdp.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: Match.anyValue() },
      RetentionPeriodHours: 24,
    });
    cdp.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('switches to provisioned shards when asked', () => {
    const provisioned = synthesizeCdp({ settings: { streamMode: 'PROVISIONED', shardCount: 4 } });
    provisioned.template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 4,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
  });

  it('reads settings from cdk.json context and rejects malformed ones', () => {
    const fromContext = synthesizeCdp(
      {},
      { 'cdp:streamMode': 'PROVISIONED', 'cdp:shardCount': 3, 'cdp:streamRetentionHours': 48 },
    );
    fromContext.template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 3,
      RetentionPeriodHours: 48,
    });
    expect(() => synthesizeCdp({}, { 'cdp:streamMode': 'FAST' })).toThrow(
      /cdp:streamMode must be ON_DEMAND or PROVISIONED/,
    );
    expect(() => synthesizeCdp({}, { 'cdp:shardCount': 'many' })).toThrow(
      /cdp:shardCount must be a positive number/,
    );
  });

  it.each([PROFILES_TABLE, CONTROL_TABLE])('builds the $id table from the shared definition', (def) => {
    cdp.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((i) =>
        Match.objectLike({ IndexName: i.indexName }),
      ),
    });
  });

  it('retains data stores by default and destroys them only when asked', () => {
    const tables = cdp.template.findResources('AWS::DynamoDB::Table');
    for (const table of Object.values(tables)) expect(table.DeletionPolicy).toBe('Retain');
    const destroy = synthesizeCdp({}, { 'cdp:removalPolicy': 'destroy' });
    for (const table of Object.values(destroy.template.findResources('AWS::DynamoDB::Table'))) {
      expect(table.DeletionPolicy).toBe('Delete');
    }
  });

  it('encrypts every bucket, blocks public access and denies non-TLS requests', () => {
    const buckets = cdp.template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets).length).toBeGreaterThanOrEqual(3);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.BucketEncryption).toBeDefined();
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
    const policies = Object.values(cdp.template.findResources('AWS::S3::BucketPolicy'));
    expect(policies.length).toBe(Object.keys(buckets).length);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('wires the stream consumer with partial batch responses, no bisect (it isolates records itself and names batches by their first record), bounded retries and an encrypted DLQ', () => {
    const consumer = PROCESS_STREAM_CONSUMERS[0]!;
    expect(consumer.parallelizationFactor).toBe(1);
    cdp.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: consumer.batchSize,
      BisectBatchOnFunctionError: false,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: consumer.retryAttempts,
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    cdp.template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() });
  });

  it('runs every function on Node.js 22, arm64', () => {
    const functions = Object.values(cdp.template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Handler === 'index.handler',
    );
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
  });

  it('serves the ingest routes over an HTTP API with throttling and access logs', () => {
    for (const path of ['track', 'identify', 'page', 'screen', 'group', 'alias', 'batch', 'import']) {
      cdp.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: `POST /v1/${path}` });
    }
    cdp.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5000, ThrottlingBurstLimit: 10000 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('grants no wildcard actions on data services', () => {
    const dataServices = /^(dynamodb|kinesis|s3|sqs|kms):/;
    for (const { policy, statement } of policyStatements(cdp.template)) {
      const actions = ([] as string[]).concat(statement.Action);
      for (const action of actions) {
        if (!dataServices.test(action)) continue;
        expect(action, `${policy} grants ${action}`).not.toMatch(/:\*$/);
      }
    }
  });

  it('lets the collector write to the stream but not read profiles', () => {
    const statements = policyStatements(cdp.template).filter(({ policy }) =>
      policy.startsWith('CollectorFunctionServiceRole'),
    );
    const actions = statements.flatMap(({ statement }) => ([] as string[]).concat(statement.Action));
    expect(actions).toContain('kinesis:PutRecords');
    expect(actions).not.toContain('dynamodb:PutItem');
    expect(actions).not.toContain('dynamodb:UpdateItem');
  });
});
