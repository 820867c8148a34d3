import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { regulationRunDefinition } from '../../core/govern/run-definition.js';
import { policyStatements, synthesizeCdp } from '../support/cdk.js';

describe('governance and the security baseline on AWS', () => {
  const cdp = synthesizeCdp();

  it('deploys the deletion job with the definition the local runtime runs', () => {
    const machines = Object.values(cdp.template.findResources('AWS::StepFunctions::StateMachine')).map(
      (m) => m.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] },
    );
    const texts = machines.map((d) =>
      d['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'RUNNER_ARN')).join(''),
    );
    expect(texts.map((t) => JSON.parse(t))).toContainEqual(regulationRunDefinition('RUNNER_ARN'));
  });

  it('puts every admin route behind IAM and only ingest routes on write keys; the console API has only admin routes, behind Cognito JWTs', () => {
    const routes = Object.values(cdp.template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties,
    );
    const consoleApi = Object.keys(cdp.template.findResources('AWS::ApiGatewayV2::Api')).find((id) =>
      id.startsWith('Console'),
    );
    expect(routes.filter((r) => r.ApiId.Ref === consoleApi).length).toBeGreaterThan(20);
    for (const r of routes) {
      const ingest = /^POST \/v1\/(track|identify|page|screen|group|alias|batch|import|[tipsgab])$/.test(
        r.RouteKey,
      );
      if (r.ApiId.Ref === consoleApi) expect(r.AuthorizationType, r.RouteKey).toBe('JWT');
      else expect(r.AuthorizationType ?? 'NONE', r.RouteKey).toBe(ingest ? 'NONE' : 'AWS_IAM');
    }
    expect(routes.some((r) => r.RouteKey === 'POST /v1/regulations')).toBe(true);
  });

  it('encrypts every queue, table and bucket with KMS (access logs with SSE-S3) and keeps PITR on', () => {
    for (const q of Object.values(cdp.template.findResources('AWS::SQS::Queue')))
      expect(q.Properties.KmsMasterKeyId).toBeDefined();
    for (const t of Object.values(cdp.template.findResources('AWS::DynamoDB::Table'))) {
      expect(t.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
      expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    cdp.template.allResourcesProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    cdp.template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: Match.objectLike({ EncryptionType: 'KMS' }),
    });
  });

  it('gives the regulation API no data access beyond the control table, and no wildcard actions anywhere', () => {
    const api = policyStatements(cdp.template).filter(({ policy }) =>
      policy.startsWith('RegulationApiFunctionServiceRole'),
    );
    const actions = api.flatMap(({ statement }) => ([] as string[]).concat(statement.Action));
    expect(actions).toContain('states:StartExecution');
    expect(actions.some((a) => a.startsWith('s3:') || a.startsWith('kinesis:'))).toBe(false);
    for (const { statement } of policyStatements(cdp.template))
      for (const a of ([] as string[]).concat(statement.Action)) expect(a).not.toBe('*');
    expect(cdp.nagErrors).toEqual([]);
  });
});

describe('the stack in a concrete environment (as `cdk synth` builds it with a region)', () => {
  it('passes cdk-nag with literal partitions and accounts too', () => {
    const { nagErrors } = synthesizeCdp({ env: { account: '111111111111', region: 'eu-west-1' } });
    expect(nagErrors).toEqual([]);
  });
});
