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
});
