import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { importRunDefinition } from '../../core/imports/run-definition.js';
import { synthesizeCdp } from '../support/cdk.js';

const SALESFORCE_CONTACTS = {
  name: 'salesforce-contacts',
  connectorType: 'Salesforce',
  connectorProfileName: 'my-salesforce',
  object: 'Contact',
  fields: ['Id', 'Email', 'FirstName', 'LastModifiedDate'],
  sourceId: 'src-crm',
  scheduleExpression: 'rate(1hours)',
};

describe('imports on AWS', () => {
  const cdp = synthesizeCdp();
  const withFlows = synthesizeCdp({}, { 'cdp:appFlows': JSON.stringify([SALESFORCE_CONTACTS]) });

  it('deploys exactly the import definition the local runtime runs, and cdk-nag passes', () => {
    const definitions = Object.values(cdp.template.findResources('AWS::StepFunctions::StateMachine')).map(
      (m) => {
        const d = m.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
        return JSON.parse(
          d['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'RUNNER_ARN')).join(''),
        );
      },
    );
    expect(definitions).toContainEqual(importRunDefinition('RUNNER_ARN'));
    expect(cdp.nagErrors).toEqual([]);
    expect(withFlows.nagErrors).toEqual([]);
  });

  it('loops slices that stay under the Lambda limit and records failures before failing', () => {
    const d = importRunDefinition('RUNNER_ARN');
    expect(d.States.ImportSlice.TimeoutSeconds).toBeLessThanOrEqual(900);
    expect(d.States.MoreRows.Choices[0]).toEqual({
      Variable: '$.done',
      BooleanEquals: false,
      Next: 'ImportSlice',
    });
    expect(d.States.ImportSlice.Catch[0]!.Next).toBe('RecordFailure');
    expect(d.States.RecordFailure.Next).toBe('ImportFailed');
  });

  it('starts imports from S3 "Object Created" events under imports/ of a KMS, TLS-only, expiring bucket', () => {
    cdp.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [Match.anyValue()] }, object: { key: [{ prefix: 'imports/' }] } },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8 } })],
    });
    cdp.template.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    cdp.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: Match.objectLike({
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) }),
        ],
      }),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-imported-files', ExpirationInDays: 30 })]),
      },
    });
  });

  it('alarms when an import fails', () => {
    cdp.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ImportsFailed',
      Dimensions: [{ Name: 'service', Value: 'ImportRunner' }],
    });
    const alarms = Object.values(cdp.template.findResources('AWS::CloudWatch::Alarm')).map((a) =>
      JSON.stringify(a),
    );
    expect(alarms.some((a) => a.includes('ImportRuns'))).toBe(true);
  });

  it('has no AppFlow flow unless one is configured', () => {
    cdp.template.resourceCountIs('AWS::AppFlow::Flow', 0);
  });

  it('syncs a Salesforce object on a schedule into imports/<sourceId>/ with only the named fields', () => {
    withFlows.template.hasResourceProperties('AWS::AppFlow::Flow', {
      FlowName: 'TestCdp-salesforce-contacts',
      KMSArn: Match.anyValue(),
      TriggerConfig: {
        TriggerType: 'Scheduled',
        TriggerProperties: Match.objectLike({
          ScheduleExpression: 'rate(1hours)',
          DataPullMode: 'Incremental',
        }),
      },
      SourceFlowConfig: {
        ConnectorType: 'Salesforce',
        ConnectorProfileName: 'my-salesforce',
        SourceConnectorProperties: { Salesforce: { Object: 'Contact' } },
      },
      DestinationFlowConfigList: [
        Match.objectLike({
          ConnectorType: 'S3',
          DestinationConnectorProperties: {
            S3: Match.objectLike({
              BucketPrefix: 'imports/src-crm/appflow',
              S3OutputFormatConfig: Match.objectLike({ FileType: 'JSON' }),
            }),
          },
        }),
      ],
      Tasks: Match.arrayWith([
        Match.objectLike({
          TaskType: 'Filter',
          SourceFields: SALESFORCE_CONTACTS.fields,
          ConnectorOperator: { Salesforce: 'PROJECTION' },
        }),
        Match.objectLike({ TaskType: 'Map', SourceFields: ['Email'], DestinationField: 'Email' }),
      ]),
    });
    // AppFlow may write to the imports prefix of this account's bucket, nothing else.
    withFlows.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'appflow.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('refuses a malformed flow setting at synth, naming the field', () => {
    expect(() =>
      synthesizeCdp(
        {},
        { 'cdp:appFlows': JSON.stringify([{ ...SALESFORCE_CONTACTS, scheduleExpression: 'hourly' }]) },
      ),
    ).toThrow(/cdp:appFlows\[0\]\.scheduleExpression must be like rate\(1hours\)/);
  });
});
