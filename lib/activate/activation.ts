import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../resources/env.js';
import { NagSuppressions } from '../shared/nag.js';
import type { DeltaQueues } from './delta-queues.js';

export interface ActivationProps {
  readonly worker: lambda.Function;
  readonly deltaQueues: DeltaQueues;
  readonly encryptionKey: kms.IKey;
}

/**
 * Activation: the worker consumes every destination type's deltas queue with that type's batch size
 * and concurrency (partial batch failures, so a failing destination retries only its messages), with a
 * dead-letter queue for deliveries that can never succeed, and only the destination API actions it calls.
 */
export class Activation extends Construct {
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ActivationProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'FailedDeliveries', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is the dead-letter queue for deliveries that can never succeed.',
      },
    ]);
    this.deadLetterQueue.grantSendMessages(props.worker);
    props.worker.addEnvironment(ENV.activationDlqUrl, this.deadLetterQueue.queueUrl);
    for (const { definition, queue } of props.deltaQueues.queues)
      props.worker.addEventSource(
        new SqsEventSource(queue, {
          batchSize: definition.batchSize,
          reportBatchItemFailures: true,
          maxBatchingWindow: Duration.seconds(definition.maxBatchingWindowSeconds),
          maxConcurrency: definition.maxConcurrency,
        }),
      );

    const { account, partition } = Stack.of(this);
    const arn = (service: string, resource: string) => `arn:${partition}:${service}:*:${account}:${resource}`;
    props.worker.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['mobiletargeting:UpdateEndpointsBatch', 'mobiletargeting:DeleteUserEndpoints'],
        resources: [arn('mobiletargeting', 'apps/*')],
      }),
    );
    props.worker.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ses:CreateContact', 'ses:UpdateContact', 'ses:DeleteContact'],
        resources: [arn('ses', 'contact-list/*')],
      }),
    );
    props.worker.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['profile:PutProfileObject', 'profile:SearchProfiles', 'profile:DeleteProfile'],
        resources: [arn('profile', 'domains/*')],
      }),
    );
    props.worker.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['personalize:PutUsers'],
        resources: [arn('personalize', 'dataset/*')],
      }),
    );
    // Segment entries and exits sent as interactions through the destination's event tracker.
    props.worker.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['personalize:PutEvents'],
        resources: [arn('personalize', 'event-tracker/*')],
      }),
    );
    props.worker.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [arn('events', 'event-bus/*')] }),
    );
    NagSuppressions.addResourceSuppressions(
      props.worker,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Destinations are configured at run time through the API (Pinpoint projects, SES contact lists, Customer Profiles domains, Personalize datasets, event buses), so the worker may call these specific actions on resources of those types in this account only.',
          appliesTo: [
            {
              regex:
                '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):(mobiletargeting|ses|profile|personalize|events):\\*:(<AWS::AccountId>|[0-9]{12}):.*\\*$/g',
            },
          ],
        },
      ],
      true,
    );
  }
}

/**
 * The deletion calls GDPR deletes make at destinations (Pinpoint DeleteUserEndpoints, SES DeleteContact,
 * Customer Profiles SearchProfiles/DeleteProfile, EventBridge `profile.deleted`), on resources of those
 * types in this account only.
 */
export function grantDestinationDeletes(fn: lambda.Function): void {
  const { account, partition } = Stack.of(fn);
  const arn = (service: string, resource: string) => `arn:${partition}:${service}:*:${account}:${resource}`;
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['mobiletargeting:DeleteUserEndpoints'],
      resources: [arn('mobiletargeting', 'apps/*')],
    }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['ses:DeleteContact'], resources: [arn('ses', 'contact-list/*')] }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['profile:SearchProfiles', 'profile:DeleteProfile'],
      resources: [arn('profile', 'domains/*')],
    }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [arn('events', 'event-bus/*')] }),
  );
  // Personalize has no per-user delete: a data deletion job reads the list with the destination's role.
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['personalize:CreateDataDeletionJob'],
      resources: [arn('personalize', 'dataset-group/*'), arn('personalize', 'data-deletion-job/*')],
    }),
  );
  passRoleTo(fn, 'personalize.amazonaws.com');
  NagSuppressions.addResourceSuppressions(
    fn,
    [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Destinations are configured at run time, so deletions may target any resource of these types in this account, with these delete actions only.',
        appliesTo: [
          {
            regex:
              '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):(mobiletargeting|ses|profile|events|personalize):\\*:(<AWS::AccountId>|[0-9]{12}):.*\\*$/g',
          },
          {
            regex:
              '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):iam::(<AWS::AccountId>|[0-9]{12}):role/\\*$/g',
          },
        ],
      },
    ],
    true,
  );
}

/** iam:PassRole for roles a destination names at run time, only towards the one service that needs it. */
function passRoleTo(fn: lambda.Function, service: string): void {
  const { account, partition } = Stack.of(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [`arn:${partition}:iam::${account}:role/*`],
      conditions: { StringEquals: { 'iam:PassedToService': service } },
    }),
  );
}

/** Full-audience imports after batch runs: Pinpoint import jobs reading the endpoint file. */
export function grantAudienceImports(fn: lambda.Function): void {
  const { account, partition } = Stack.of(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['mobiletargeting:CreateImportJob'],
      resources: [`arn:${partition}:mobiletargeting:*:${account}:apps/*`],
    }),
  );
  passRoleTo(fn, 'pinpoint.amazonaws.com');
  NagSuppressions.addResourceSuppressions(
    fn,
    [
      {
        id: 'AwsSolutions-IAM5',
        reason:
          'Pinpoint projects and their import roles are named by destinations at run time; PassRole is limited to the Pinpoint service.',
        appliesTo: [
          {
            regex:
              '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):mobiletargeting:\\*:(<AWS::AccountId>|[0-9]{12}):apps/\\*$/g',
          },
          {
            regex:
              '/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):iam::(<AWS::AccountId>|[0-9]{12}):role/\\*$/g',
          },
        ],
      },
    ],
    true,
  );
}
