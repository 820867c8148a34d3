import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { segmentRunDefinition } from '../../core/segments/run-definition.js';
import { synthesizeCdp } from '../support/cdk.js';

describe('segmentation on AWS', () => {
  const cdp = synthesizeCdp({}, { 'cdp:segmentScheduleMinutes': 30 });

  it('deploys exactly the definition the local runtime runs', () => {
    const machines = Object.values(cdp.template.findResources('AWS::StepFunctions::StateMachine')).map(
      (m) => m.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] },
    );
    const definitions = machines.map((d) =>
      JSON.parse(d['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'RUNNER_ARN')).join('')),
    );
    expect(definitions).toContainEqual(segmentRunDefinition('RUNNER_ARN', 8));
  });

  it('starts runs on a schedule and logs transitions without data', () => {
    cdp.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(30 minutes)',
      Target: Match.objectLike({ Arn: Match.anyValue(), RoleArn: Match.anyValue() }),
    });
    cdp.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
      TracingConfiguration: { Enabled: true },
    });
  });

  it('carries deltas on an encrypted queue with a dead-letter queue', () => {
    cdp.template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: Match.anyValue(),
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
    expect(cdp.nagErrors).toEqual([]);
  });

  it('fans out scan segments as a Distributed Map whose role may start and watch only its own children', () => {
    const run = segmentRunDefinition('RUNNER_ARN', 8).States.EvaluateScanSegments;
    expect(run.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    const statements = Object.values(cdp.template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>,
    );
    const text = (v: unknown) => JSON.stringify(v);
    const start = statements.find(
      (s) =>
        text(s.Action) === '"states:StartExecution"' &&
        text(s.Resource).includes(':stateMachine:TestCdp-segment-run'),
    );
    expect(start).toBeDefined();
    const watch = statements.find(
      (s) => text(s.Action) === text(['states:DescribeExecution', 'states:StopExecution']),
    );
    expect(text(watch?.Resource)).toContain(':execution:TestCdp-segment-run/*');
    expect(cdp.nagErrors).toEqual([]);
  });
});
