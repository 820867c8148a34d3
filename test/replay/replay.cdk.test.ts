import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { replayRunDefinition } from '../../core/replay/run-definition.js';
import { synthesizeCdp } from '../support/cdk.js';

describe('replays on AWS', () => {
  const cdp = synthesizeCdp();
  const machines = cdp.template.findResources('AWS::StepFunctions::StateMachine');

  it('deploys the replay definition the local runtime runs, on the processor function, and cdk-nag passes', () => {
    const replay = Object.entries(machines).find(([id]) => id.startsWith('ReplayRun'));
    expect(replay).toBeDefined();
    const parts = (replay![1].Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })[
      'Fn::Join'
    ][1];
    const definition = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'RUNNER_ARN')).join(''));
    expect(definition).toEqual(replayRunDefinition('RUNNER_ARN'));
    const runners = parts.filter((p) => typeof p !== 'string') as Array<{ 'Fn::GetAtt': [string, string] }>;
    expect(runners.every((r) => r['Fn::GetAtt'][0].startsWith('ProfileProcessorFunction'))).toBe(true);
    expect(cdp.nagErrors).toEqual([]);
  });

  it('adds no function, and writes to the control table only replay records', () => {
    expect(
      Object.keys(cdp.template.findResources('AWS::Lambda::Function')).some((id) => /Replay/.test(id)),
    ).toBe(false);
    cdp.template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^ProfileProcessorFunction') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['REPLAY#*', 'REPLAYS'] } },
          }),
        ]),
      },
    });
    cdp.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CDP_REPLAY_RUN_STATE_MACHINE_ARN: Match.anyValue() }) },
    });
  });
});
