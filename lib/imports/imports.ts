import { type CfnResource, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as appflow from 'aws-cdk-lib/aws-appflow';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { importRunDefinition } from '../../core/imports/run-definition.js';
import { IMPORTS_BUCKET, IMPORTS_PREFIX, UPLOADS_PREFIX } from '../../resources/buckets.js';
import { ENV } from '../../resources/env.js';
import { NagSuppressions } from '../shared/nag.js';

/** A SaaS object synced into the imports prefix by Amazon AppFlow (`cdp:appFlows`). */
export interface AppFlowImport {
  /** Flow name suffix (letters, digits, dashes). */
  readonly name: string;
  /** AppFlow connector type, e.g. `Salesforce`, `Zendesk`, `ServiceNow`, `Marketo`. */
  readonly connectorType: 'Salesforce' | 'Zendesk' | 'ServiceNow' | 'Marketo';
  /** The connector profile the user created (and authorized) in AppFlow. */
  readonly connectorProfileName: string;
  /** The SaaS object, e.g. `Contact`. */
  readonly object: string;
  /** Fields copied to the file; the source's import mapping reads them as columns. */
  readonly fields: readonly string[];
  /** The CDP source the rows belong to; its import mapping (with `"format": "jsonl"`) applies. */
  readonly sourceId: string;
  /** AppFlow schedule, e.g. `rate(1hours)` (at least one minute). */
  readonly scheduleExpression: string;
}

export interface ImportsProps {
  readonly runner: lambda.IFunction;
  readonly trigger: lambda.IFunction;
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  readonly appFlows?: readonly AppFlowImport[];
}

/**
 * Batch sources: the imports bucket (files under `imports/<sourceId>/` start an import through S3
 * notifications; API uploads under `uploads/`), the import state machine (its definition is
 * `importRunDefinition`, the same one the local runtime runs) and optional AppFlow flows that land
 * SaaS objects in the imports prefix on a schedule.
 */
export class Imports extends Construct {
  readonly bucket: s3.Bucket;
  readonly stateMachine: sfn.StateMachine;
  readonly flows: appflow.CfnFlow[] = [];

  constructor(scope: Construct, id: string, props: ImportsProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, IMPORTS_BUCKET.id, {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'imports/',
      // Files hold raw PII; once imported they are in profiles and the lake, so they do not linger.
      lifecycleRules: [
        { id: 'expire-imported-files', expiration: Duration.days(30) },
        { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(7) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: props.removalPolicy,
    });
    // Object-created events through EventBridge, set on the bucket itself: CDK's `eventBridgeEnabled`
    // would add its notifications custom resource (a Python Lambda that rewrites bucket settings).
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    new events.Rule(this, 'FileCreated', {
      description: 'A file under imports/ starts its import',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [this.bucket.bucketName] }, object: { key: [{ prefix: IMPORTS_PREFIX }] } },
      },
      targets: [new targets.LambdaFunction(props.trigger, { retryAttempts: 8 })],
    });

    const logGroup = new logs.LogGroup(this, 'RunLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Run', {
      stateMachineName: `${Stack.of(this).stackName}-import-run`,
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify(importRunDefinition(props.runner.functionArn)),
      ),
      tracingEnabled: true,
      // Steps pass ids, cursors and counts only; execution data stays out of the logs anyway.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      timeout: Duration.hours(24),
    });
    props.runner.grantInvoke(this.stateMachine);
    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'grantInvoke covers the runner function and its versions ("<function>:*"); no other function.',
          appliesTo: [{ regex: '/^Resource::<ImportRunnerFunction[0-9A-F]+\\.Arn>:\\*$/g' }],
        },
      ],
      true,
    );

    if (props.appFlows?.length) {
      this.grantAppFlowWrites(props.encryptionKey);
      for (const flow of props.appFlows) this.flows.push(this.appFlow(flow, props.encryptionKey));
    }
    NagSuppressions.addStackSuppressions(Stack.of(this), [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Import functions read and write objects only under their prefixes of the imports bucket ("<imports>/imports/*", "<imports>/uploads/*"): file names are chosen by the people who drop them, which S3 can only express with a trailing wildcard.',
        appliesTo: [{ regex: '/^Resource::<ImportsImportsBucket[0-9A-F]+\\.Arn>/(imports|uploads)/\\*$/g' }],
      },
    ]);
  }

  private appFlow(flow: AppFlowImport, key: kms.IKey): appflow.CfnFlow {
    // AppFlow's per-connector property names are the connector type in camel case.
    const connector = flow.connectorType.charAt(0).toLowerCase() + flow.connectorType.slice(1);
    const cfn = new appflow.CfnFlow(this, `Flow${flow.name}`, {
      flowName: `${Stack.of(this).stackName}-${flow.name}`,
      description: `${flow.connectorType} ${flow.object} into CDP source ${flow.sourceId}`,
      kmsArn: key.keyArn,
      triggerConfig: {
        triggerType: 'Scheduled',
        triggerProperties: { scheduleExpression: flow.scheduleExpression, dataPullMode: 'Incremental' },
      },
      sourceFlowConfig: {
        connectorType: flow.connectorType,
        connectorProfileName: flow.connectorProfileName,
        sourceConnectorProperties: { [connector]: { object: flow.object } },
      },
      destinationFlowConfigList: [
        {
          connectorType: 'S3',
          destinationConnectorProperties: {
            s3: {
              bucketName: this.bucket.bucketName,
              bucketPrefix: `${IMPORTS_PREFIX}${flow.sourceId}/appflow`,
              // JSON Lines keeps the SaaS field types; files have no extension, the mapping's format says it.
              s3OutputFormatConfig: {
                fileType: 'JSON',
                aggregationConfig: { aggregationType: 'SingleFile' },
              },
            },
          },
        },
      ],
      tasks: [
        {
          taskType: 'Filter',
          sourceFields: [...flow.fields],
          connectorOperator: { [connector]: 'PROJECTION' },
        },
        ...flow.fields.map((field) => ({
          taskType: 'Map',
          sourceFields: [field],
          destinationField: field,
          connectorOperator: { [connector]: 'NO_OP' },
        })),
      ],
    });
    // AppFlow checks its access to the bucket when the flow is created.
    const policy = this.bucket.policy?.node.defaultChild as CfnResource | undefined;
    if (policy) cfn.addResourceDependency(policy);
    return cfn;
  }

  /** Lets AppFlow (of this account) write into the imports prefix of the bucket. */
  private grantAppFlowWrites(key: kms.IKey): void {
    const appflowPrincipal = new iam.ServicePrincipal('appflow.amazonaws.com');
    const { account } = Stack.of(this);
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [appflowPrincipal],
        actions: [
          's3:PutObject',
          's3:AbortMultipartUpload',
          's3:ListMultipartUploadParts',
          's3:ListBucketMultipartUploads',
          's3:GetBucketAcl',
          's3:PutObjectAcl',
        ],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects(`${IMPORTS_PREFIX}*`)],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    key.grantEncryptDecrypt(appflowPrincipal);
  }

  environment(): Record<string, string> {
    return {
      [ENV.importsBucket]: this.bucket.bucketName,
      [ENV.importRunStateMachineArn]: this.stateMachine.stateMachineArn,
    };
  }

  private allow(grantee: iam.IGrantable, actions: string[], prefixes: string[]): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: prefixes.map((p) => this.bucket.arnForObjects(`${p}*`)),
    });
  }

  /** Read files (ranged GETs) and write errors files beside them. */
  grantRun(grantee: iam.IGrantable): void {
    this.allow(grantee, ['s3:GetObject', 's3:PutObject'], [IMPORTS_PREFIX, UPLOADS_PREFIX]);
    this.bucket.encryptionKey?.grantEncryptDecrypt(grantee);
  }

  /** Head new files (HeadObject needs s3:GetObject) and start their imports. */
  grantTrigger(grantee: iam.IGrantable): void {
    this.allow(grantee, ['s3:GetObject'], [IMPORTS_PREFIX]);
    this.stateMachine.grantStartExecution(grantee);
  }

  /** Store uploads under `uploads/`, read their ETag, start their imports. */
  grantUpload(grantee: iam.IGrantable): void {
    this.allow(grantee, ['s3:GetObject', 's3:PutObject'], [UPLOADS_PREFIX]);
    this.bucket.encryptionKey?.grantEncrypt(grantee);
    this.stateMachine.grantStartExecution(grantee);
  }
}
