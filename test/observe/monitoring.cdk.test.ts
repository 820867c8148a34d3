import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIVATION_FUNCTION,
  IMPORT_RUNNER_FUNCTION,
  IMPORT_TRIGGER_FUNCTION,
  LAKE_WRITER_FUNCTION,
  PROFILE_PROCESSOR_FUNCTION,
  SEGMENT_RUNNER_FUNCTION,
} from '../../resources/functions/index.js';
import { METRIC, METRICS_NAMESPACE } from '../../resources/metrics.js';
import { type SynthesizedCdp, synthesizeCdp } from '../support/cdk.js';

type Resource = { Properties: Record<string, unknown> };
type Alarm = {
  Properties: {
    MetricName?: string;
    Namespace?: string;
    Dimensions?: Array<{ Name: string; Value: unknown }>;
    Threshold: number;
    AlarmActions: unknown[];
    OKActions: unknown[];
    Metrics?: unknown[];
  };
};

/** The logical id a `{ Ref }` or `{ Fn::GetAtt: [id, ...] }` points at. */
const target = (value: unknown): string | undefined => {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  return v?.Ref ?? v?.['Fn::GetAtt']?.[0];
};

describe('monitoring', () => {
  let cdp: SynthesizedCdp;
  let alarms: Alarm[];
  beforeAll(() => {
    cdp = synthesizeCdp();
    alarms = Object.values(cdp.template.findResources('AWS::CloudWatch::Alarm')) as Alarm[];
  });

  const alarmsOn = (metricName: string) => alarms.filter((a) => a.Properties.MetricName === metricName);

  it('sends every alarm, and its recovery, to one KMS-encrypted, TLS-only topic', () => {
    const topics = cdp.template.findResources('AWS::SNS::Topic');
    const [topicId, topic] = Object.entries(topics)[0] as [string, Resource];
    expect(Object.keys(topics)).toHaveLength(1);
    expect(topic.Properties.KmsMasterKeyId).toBeDefined();
    cdp.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    expect(alarms.length).toBeGreaterThan(20);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions.map(target)).toEqual([topicId]);
      expect(alarm.Properties.OKActions.map(target)).toEqual([topicId]);
    }
    cdp.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    expect(cdp.nagErrors).toEqual([]);
  });

  it('alarms on every queue that nothing drains: each queue has a dead-letter queue or is one, watched', () => {
    const queues = cdp.template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const watched = new Set(
      alarmsOn('ApproximateNumberOfMessagesVisible').map(
        (a) => target(a.Properties.Dimensions?.find((d) => d.Name === 'QueueName')?.Value) ?? '',
      ),
    );
    const terminal = Object.entries(queues).filter(([, q]) => q.Properties.RedrivePolicy === undefined);
    expect(terminal.length).toBeGreaterThanOrEqual(10);
    for (const [id] of terminal) expect(watched, id).toContain(id);
  });

  it('alarms on errors and throttles of every function, and on stream consumers falling behind', () => {
    const functions = Object.entries(
      cdp.template.findResources('AWS::Lambda::Function') as Record<string, Resource>,
    )
      .filter(
        ([, f]) =>
          (f.Properties.Environment as { Variables?: Record<string, unknown> })?.Variables
            ?.POWERTOOLS_SERVICE_NAME,
      )
      .map(([id]) => id);
    expect(functions.length).toBeGreaterThanOrEqual(10);
    const watchedBy = (metric: string) =>
      new Set(
        alarmsOn(metric).map(
          (a) => target(a.Properties.Dimensions?.find((d) => d.Name === 'FunctionName')?.Value) ?? '',
        ),
      );
    for (const id of functions) {
      expect(watchedBy('Errors'), id).toContain(id);
      expect(watchedBy('Throttles'), id).toContain(id);
    }
    const iteratorAge = alarmsOn('IteratorAge');
    expect(iteratorAge).toHaveLength(2);
    for (const alarm of iteratorAge) expect(alarm.Properties.Threshold).toBe(5 * 60 * 1000);
  });

  it('alarms on quarantined records and failed deliveries, with the dimensions the handlers emit', () => {
    const custom = alarms
      .filter((a) => a.Properties.Namespace === METRICS_NAMESPACE)
      .map(
        (a) =>
          `${a.Properties.Dimensions?.find((d) => d.Name === 'service')?.Value}/${a.Properties.MetricName}`,
      )
      .sort();
    expect(custom).toEqual(
      [
        `${PROFILE_PROCESSOR_FUNCTION.id}/${METRIC.recordsQuarantined}`,
        `${LAKE_WRITER_FUNCTION.id}/${METRIC.recordsQuarantined}`,
        `${ACTIVATION_FUNCTION.id}/${METRIC.deltasFailed}`,
        `${IMPORT_RUNNER_FUNCTION.id}/${METRIC.importsFailed}`,
        `${IMPORT_TRIGGER_FUNCTION.id}/${METRIC.importsFailed}`,
        `${SEGMENT_RUNNER_FUNCTION.id}/${METRIC.identityViolations}`,
      ].sort(),
    );
    // Step Functions runs that fail, time out or are aborted (segments, regulations, imports, replays).
    expect(alarms.filter((a) => a.Properties.Metrics !== undefined)).toHaveLength(4);
    cdp.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('subscribes an alarm email when given one, and refuses a malformed one', () => {
    const withEmail = synthesizeCdp(
      {},
      { 'cdp:alarmEmail': 'oncall@example.com', 'cdp:maxIteratorAgeMinutes': 15 },
    );
    withEmail.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    withEmail.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: 15 * 60 * 1000,
    });
    cdp.template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(() => synthesizeCdp({}, { 'cdp:alarmEmail': 'not-an-address' })).toThrow(
      'cdp:alarmEmail must be an email address',
    );
  });
});
