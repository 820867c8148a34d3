import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { regulationRunDefinition } from '../../core/govern/run-definition.js';
import { ENV } from '../../resources/env.js';
import { NagSuppressions } from '../shared/nag.js';

export interface GovernanceProps {
  readonly runner: lambda.IFunction;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/** The GDPR/CCPA deletion job (the same definition the local runtime runs). */
export class Governance extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: GovernanceProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'RunLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Run', {
      stateMachineName: `${Stack.of(this).stackName}-regulation-run`,
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify(regulationRunDefinition(props.runner.functionArn)),
      ),
      tracingEnabled: true,
      // Steps pass only the regulation id; execution data stays out of the logs anyway.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      timeout: Duration.hours(6),
    });
    props.runner.grantInvoke(this.stateMachine);
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'grantInvoke covers the runner function and its versions ("<function>:*"); no other function.',
          appliesTo: [{ regex: '/^Resource::<RegulationRunnerFunction[0-9A-F]+\\.Arn>:\\*$/g' }],
        },
      ],
      true,
    );
  }

  environment(): Record<string, string> {
    return { [ENV.regulationRunStateMachineArn]: this.stateMachine.stateMachineArn };
  }

  grantStartRun(grantee: iam.IGrantable): void {
    this.stateMachine.grantStartExecution(grantee);
  }
}
