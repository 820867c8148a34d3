import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, settingsFromContext, validateSettings } from '../../lib/config.js';
import { TIMELINE_TABLE } from '../../resources/tables.js';
import { type SynthesizedCdp, synthesizeCdp } from '../support/cdk.js';

/** The table built from a definition's logical id (the stack nests it under the store construct). */
const tableOf = (cdp: SynthesizedCdp, id: string) => {
  const entry = Object.entries(cdp.template.findResources('AWS::DynamoDB::Table')).find(([logicalId]) =>
    logicalId.startsWith(`Store${id}`),
  );
  if (!entry) throw new Error(`no table ${id}`);
  return { logicalId: entry[0], properties: entry[1].Properties as Record<string, unknown> };
};

describe('settings for steady, high-volume traffic (defaults)', () => {
  let cdp: SynthesizedCdp;
  beforeAll(() => {
    cdp = synthesizeCdp();
  });

  it('keeps every table on demand, with no auto scaling', () => {
    for (const table of Object.values(cdp.template.findResources('AWS::DynamoDB::Table')))
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    cdp.template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    cdp.template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 0);
  });

  it('keeps point-in-time recovery on every table', () => {
    for (const table of Object.values(cdp.template.findResources('AWS::DynamoDB::Table')))
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('gives the collector no function URL and no reserved concurrency', () => {
    cdp.template.resourceCountIs('AWS::Lambda::Url', 0);
    expect(Object.keys(cdp.template.findOutputs('IngestFunctionUrl'))).toEqual([]);
    for (const fn of Object.values(cdp.template.findResources('AWS::Lambda::Function')))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('cdp:timelineCapacity=provisioned', () => {
  let cdp: SynthesizedCdp;
  beforeAll(() => {
    cdp = synthesizeCdp(
      {},
      {
        'cdp:timelineCapacity': 'provisioned',
        'cdp:timelineWriteCapacity': '{"min":200,"max":3000}',
        'cdp:timelineReadCapacity': { min: 50, max: 1000 },
        'cdp:timelineTargetUtilization': '60',
      },
    );
  });

  it('provisions the timeline table at the minimum, and only the timeline table', () => {
    const timeline = tableOf(cdp, TIMELINE_TABLE.id);
    // CloudFormation's default billing mode is provisioned; CDK leaves it out.
    expect(timeline.properties.BillingMode ?? 'PROVISIONED').toBe('PROVISIONED');
    expect(timeline.properties.ProvisionedThroughput).toEqual({
      WriteCapacityUnits: 200,
      ReadCapacityUnits: 50,
    });
    for (const id of ['ProfilesTable', 'ControlTable'])
      expect(tableOf(cdp, id).properties.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('scales writes and reads with target tracking at the given utilization', () => {
    const timeline = tableOf(cdp, TIMELINE_TABLE.id);
    const resourceId = { 'Fn::Join': ['', ['table/', { Ref: timeline.logicalId }]] };
    for (const [dimension, min, max] of [
      ['WriteCapacityUnits', 200, 3000],
      ['ReadCapacityUnits', 50, 1000],
    ] as const) {
      cdp.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ScalableDimension: `dynamodb:table:${dimension}`,
        ResourceId: resourceId,
        MinCapacity: min,
        MaxCapacity: max,
      });
    }
    cdp.template.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 2);
    for (const metric of ['DynamoDBWriteCapacityUtilization', 'DynamoDBReadCapacityUtilization'])
      cdp.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: metric },
          TargetValue: 60,
        },
      });
  });

  it('passes the cdk-nag checks', () => {
    expect(cdp.nagErrors).toEqual([]);
  });

  it('uses the documented defaults when only the mode is set: 100-10,000 units, 70%', () => {
    const plain = synthesizeCdp({ settings: { timelineCapacity: 'provisioned' } });
    plain.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ScalableDimension: 'dynamodb:table:WriteCapacityUnits',
      MinCapacity: 100,
      MaxCapacity: 10_000,
    });
    plain.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 70 }),
    });
  });
});

describe('cdp:ingestEndpoint=function-url', () => {
  let cdp: SynthesizedCdp;
  beforeAll(() => {
    cdp = synthesizeCdp(
      {},
      {
        'cdp:ingestEndpoint': 'function-url',
        'cdp:corsOrigins': 'https://shop.example.com',
        'cdp:collectorReservedConcurrency': '300',
      },
    );
  });

  const collectorLogicalId = () => {
    const [id] = Object.keys(
      cdp.template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'Collector' } } },
      }),
    );
    if (!id) throw new Error('no collector');
    return id;
  };

  it('gives the collector a public, buffered function URL with the ingest routes’ CORS', () => {
    cdp.template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: { 'Fn::GetAtt': [collectorLogicalId(), 'Arn'] },
      Cors: {
        AllowOrigins: ['https://shop.example.com'],
        AllowMethods: ['POST'],
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'content-encoding', 'x-retry-count']),
        MaxAge: 600,
      },
    });
    // Both permissions Lambda requires of a public function URL, and nothing wider.
    cdp.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      FunctionUrlAuthType: 'NONE',
      Principal: '*',
    });
    cdp.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      InvokedViaFunctionUrl: true,
      Principal: '*',
    });
  });

  it('outputs the URL and keeps the HTTP API with its ingest and admin routes', () => {
    cdp.template.hasOutput('IngestFunctionUrl', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CollectorUrl'), 'FunctionUrl'] },
    });
    cdp.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/t' });
    cdp.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /v1/profiles/{id}',
      AuthorizationType: 'AWS_IAM',
    });
  });

  it('alarms when the function URL answers 5xx, as the API alarm does for the HTTP API', () => {
    cdp.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Url5xxCount',
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: collectorLogicalId() } }],
      Threshold: 0,
    });
  });

  it('limits the collector with its reserved concurrency', () => {
    const collector = cdp.template.findResources('AWS::Lambda::Function')[collectorLogicalId()];
    expect(collector?.Properties.ReservedConcurrentExecutions).toBe(300);
  });

  it('passes the cdk-nag checks', () => {
    expect(cdp.nagErrors).toEqual([]);
  });
});

describe('validation of the steady-load settings', () => {
  const ctx = (context: Record<string, unknown>) =>
    validateSettings({ ...DEFAULT_SETTINGS, ...settingsFromContext(new App({ context })) });

  it('reads each from context', () => {
    expect(
      ctx({
        'cdp:timelineCapacity': 'provisioned',
        'cdp:timelineWriteCapacity': '{"min":5,"max":50}',
        'cdp:ingestEndpoint': 'function-url',
      }),
    ).toMatchObject({
      timelineCapacity: 'provisioned',
      timelineWriteCapacity: { min: 5, max: 50 },
      timelineReadCapacity: DEFAULT_SETTINGS.timelineReadCapacity,
      ingestEndpoint: 'function-url',
    });
  });

  it('names the rule a bad value breaks', () => {
    expect(() => ctx({ 'cdp:timelineCapacity': 'PROVISIONED' })).toThrow(
      /cdp:timelineCapacity must be one of on-demand, provisioned/,
    );
    expect(() => ctx({ 'cdp:ingestEndpoint': 'url' })).toThrow(
      /cdp:ingestEndpoint must be one of http-api, function-url/,
    );
    expect(() => ctx({ 'cdp:timelineWriteCapacity': '100' })).toThrow(
      /cdp:timelineWriteCapacity must be \{"min":<units>,"max":<units>\}/,
    );
    expect(() => ctx({ 'cdp:timelineReadCapacity': { min: 50, max: 10 } })).toThrow(
      /cdp:timelineReadCapacity must have whole numbers 1 <= min <= max/,
    );
    expect(() => ctx({ 'cdp:timelineWriteCapacity': { min: 1.5, max: 10 } })).toThrow(/whole numbers/);
    expect(() => ctx({ 'cdp:timelineWriteCapacity': { min: 1, max: 50_000 } })).toThrow(
      /max must be at most 40000/,
    );
    expect(() => ctx({ 'cdp:timelineTargetUtilization': 95 })).toThrow(
      /cdp:timelineTargetUtilization must be a percent from 20 to 90/,
    );
    expect(() => ctx({ 'cdp:collectorReservedConcurrency': '2.5' })).toThrow(
      /cdp:collectorReservedConcurrency must be a whole number/,
    );
  });

  it('applies the same rules to props', () => {
    expect(() =>
      synthesizeCdp({ settings: { timelineCapacity: 'provisioned', timelineTargetUtilization: 10 } }),
    ).toThrow(/cdp:timelineTargetUtilization must be a percent from 20 to 90/);
  });
});

describe('cdp:timelineBackups=false', () => {
  it('turns point-in-time recovery off on the timeline table only, with the reason cdk-nag is given', () => {
    const cdp = synthesizeCdp({}, { 'cdp:timelineBackups': 'false' });
    expect(tableOf(cdp, TIMELINE_TABLE.id).properties.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: false,
    });
    for (const id of ['ProfilesTable', 'ControlTable'])
      expect(tableOf(cdp, id).properties.PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
    expect(cdp.nagErrors).toEqual([]);
    const tables = cdp.template.findResources('AWS::DynamoDB::Table');
    const metadata = tables[tableOf(cdp, TIMELINE_TABLE.id).logicalId]?.Metadata as {
      cdk_nag?: { rules_to_suppress?: Array<{ id: string; reason: string }> };
    };
    expect(metadata.cdk_nag?.rules_to_suppress).toEqual([
      expect.objectContaining({ id: 'AwsSolutions-DDB3', reason: expect.stringMatching(/rebuild/) }),
    ]);
  });

  it('accepts true or false only', () => {
    expect(settingsFromContext(new App({ context: { 'cdp:timelineBackups': false } })).timelineBackups).toBe(
      false,
    );
    expect(DEFAULT_SETTINGS.timelineBackups).toBe(true);
    expect(() => settingsFromContext(new App({ context: { 'cdp:timelineBackups': 'off' } }))).toThrow(
      /cdp:timelineBackups must be true or false/,
    );
  });
});

describe('the four settings together, as the README deploys them', () => {
  it('synthesizes a provisioned stream and timeline, the function URL and no timeline PITR, and passes cdk-nag', () => {
    const cdp = synthesizeCdp(
      {},
      {
        'cdp:timelineCapacity': 'provisioned',
        'cdp:timelineWriteCapacity': '{"min":1500,"max":6000}',
        'cdp:timelineReadCapacity': '{"min":500,"max":3000}',
        'cdp:ingestEndpoint': 'function-url',
        'cdp:collectorReservedConcurrency': '200',
        'cdp:timelineBackups': 'false',
        'cdp:streamMode': 'PROVISIONED',
        'cdp:shardCount': '2',
      },
    );
    cdp.template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 2,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
    const timeline = tableOf(cdp, TIMELINE_TABLE.id);
    expect(timeline.properties.ProvisionedThroughput).toEqual({
      WriteCapacityUnits: 1500,
      ReadCapacityUnits: 500,
    });
    expect(timeline.properties.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: false,
    });
    cdp.template.resourceCountIs('AWS::Lambda::Url', 1);
    expect(cdp.nagErrors).toEqual([]);
  });
});
