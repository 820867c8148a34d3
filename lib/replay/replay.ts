import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { replayRunDefinition } from '../../core/replay/run-definition.js';
import { ENV } from '../../resources/env.js';
import { NagSuppressions } from '../shared/nag.js';

export interface ReplayProps {
  /** The function the steps run on: the profile processor (its pipeline, tables and identity settings). */
  readonly runner: lambda.IFunction;
  readonly lakeBucket: s3.IBucket;
  readonly controlTable: dynamodb.ITable;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Replays (quarantine re-drives, lake replays, rebuilds): one state machine, whose definition is
 * `replayRunDefinition` (the local runtime runs the same), and the grants that let the processor's
 * function read the lake and keep the replay records. No function of its own.
 */
export class Replay extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ReplayProps,
  ) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'RunLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Run', {
      stateMachineName: `${Stack.of(this).stackName}-replay-run`,
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify(replayRunDefinition(props.runner.functionArn)),
      ),
      tracingEnabled: true,
      // Steps pass ids, cursors and counts only; execution data stays out of the logs anyway.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      // A rebuild of a large history takes long; Standard workflows run up to a year.
      timeout: Duration.days(7),
    });
    props.runner.grantInvoke(this.stateMachine);
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'grantInvoke covers the profile processor function and its versions ("<function>:*"); no other function.',
          appliesTo: [{ regex: '/^Resource::<ProfileProcessorFunction[0-9A-F]+\\.Arn>:\\*$/g' }],
        },
      ],
      true,
    );
  }

  environment(): Record<string, string> {
    return { [ENV.replayRunStateMachineArn]: this.stateMachine.stateMachineArn };
  }

  /** List and read raw events and the processor's quarantine; write replay records only. */
  private grantLakeRead(grantee: iam.IGrantable, quarantineWrite: boolean): void {
    const { lakeBucket } = this.props;
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [lakeBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': ['raw/', 'raw/*', 'quarantine/stage=process/*'] } },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject'],
      resourceArns: ['raw/*', 'quarantine/stage=process/*'].map((p) => lakeBucket.arnForObjects(p)),
    });
    if (quarantineWrite)
      // A re-drive rewrites (or deletes) the quarantine object its records came from.
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resourceArns: [lakeBucket.arnForObjects('quarantine/stage=process/*')],
      });
    lakeBucket.encryptionKey?.grantDecrypt(grantee);
  }

  /** The replay records (`REPLAY#...`, `REPLAYS`) of the control table, and nothing else of it, for writes. */
  private grantRecords(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resourceArns: [this.props.controlTable.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['REPLAY#*', 'REPLAYS'] } },
    });
  }

  /** The steps: read the lake, rewrite re-driven quarantine objects, keep progress on the record. */
  grantRun(grantee: iam.IGrantable): void {
    this.grantLakeRead(grantee, true);
    this.grantRecords(grantee);
  }

  /** The API: start replays, keep their records, dry runs read the lake. */
  grantStart(grantee: iam.IGrantable): void {
    this.grantLakeRead(grantee, false);
    this.stateMachine.grantStartExecution(grantee);
  }
}
