import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { segmentRunDefinition } from '../../core/segments/run-definition.js';
import { ENV } from '../../resources/env.js';
import { NagSuppressions } from '../shared/nag.js';

export interface SegmentationProps {
  /** The function that runs the plan/evaluate/finalize steps. */
  readonly runner: lambda.IFunction;
  readonly encryptionKey: kms.IKey;
  /** Minutes between scheduled batch runs. */
  readonly scheduleMinutes: number;
  /** Scan segments evaluated in parallel by the Map state. */
  readonly maxConcurrency: number;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Batch segmentation: the state machine (its definition is `segmentRunDefinition`, the same one the
 * local runtime runs) and an EventBridge Scheduler schedule that starts it. Deltas leave through the
 * activation queues (`DeltaQueues`).
 */
export class Segmentation extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: SegmentationProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'RunLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    const stateMachineName = `${Stack.of(this).stackName}-segment-run`;
    this.stateMachine = new sfn.StateMachine(this, 'Run', {
      stateMachineName,
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify(segmentRunDefinition(props.runner.functionArn, props.maxConcurrency)),
      ),
      tracingEnabled: true,
      // Every state transition is logged, but never the data: inputs carry profile traits.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      timeout: Duration.hours(2),
    });
    props.runner.grantInvoke(this.stateMachine);
    // The Distributed Map runs each scan segment as a child execution of this same state machine. The
    // ARNs are built from the name, not referenced, which would make the role depend on the machine.
    const { partition, region, account } = Stack.of(this);
    const states = `arn:${partition}:states:${region}:${account}`;
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [`${states}:stateMachine:${stateMachineName}`],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [`${states}:execution:${stateMachineName}/*`],
      }),
    );
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'grantInvoke covers the runner function and its versions ("<function>:*"); no other function.',
          appliesTo: [{ regex: '/^Resource::<SegmentRunnerFunction[0-9A-F]+\\.Arn>:\\*$/g' }],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            "The Distributed Map's child executions of this state machine only; their names are chosen by Step Functions.",
          appliesTo: [{ regex: '/^Resource::arn:.*:states:.*:execution:.*-segment-run\\/\\*$/g' }],
        },
      ],
      true,
    );

    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
    });
    this.stateMachine.grantStartExecution(schedulerRole);
    new scheduler.CfnSchedule(this, 'Schedule', {
      description: 'Batch segment run over the profiles changed or due since the previous one',
      scheduleExpression: `rate(${props.scheduleMinutes} ${props.scheduleMinutes === 1 ? 'minute' : 'minutes'})`,
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: this.stateMachine.stateMachineArn,
        roleArn: schedulerRole.roleArn,
        input: JSON.stringify({ incremental: true }),
      },
    });
    // Once a day the run also checks (and repairs) the identity graph around every live profile; it
    // costs a read per identifier, which hourly runs should not pay.
    new scheduler.CfnSchedule(this, 'IdentityCheckSchedule', {
      description: 'Daily batch segment run that also checks the identity graph',
      scheduleExpression: 'cron(17 3 * * ? *)',
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: this.stateMachine.stateMachineArn,
        roleArn: schedulerRole.roleArn,
        input: JSON.stringify({ checkIdentities: true }),
      },
    });
  }

  environment(): Record<string, string> {
    return {
      [ENV.segmentRunStateMachineArn]: this.stateMachine.stateMachineArn,
    };
  }

  grantStartRun(grantee: iam.IGrantable): void {
    this.stateMachine.grantStartExecution(grantee);
  }
}
