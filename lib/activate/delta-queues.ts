import { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DELTA_QUEUES, type DeltaQueueDefinition } from '../../resources/queues.js';
import { NagSuppressions } from '../shared/nag.js';

export interface DeltaQueuesProps {
  readonly encryptionKey: kms.IKey;
}

export interface DeltaQueue {
  readonly definition: DeltaQueueDefinition;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * The queues that carry membership deltas from segmentation to activation, one per destination type
 * (from `DELTA_QUEUES`), each with its own redrive DLQ: an API that is down holds back only its own
 * deltas.
 */
export class DeltaQueues extends Construct {
  readonly queues: readonly DeltaQueue[];

  constructor(scope: Construct, id: string, props: DeltaQueuesProps) {
    super(scope, id);
    this.queues = DELTA_QUEUES.map((definition) => {
      const deadLetterQueue = new sqs.Queue(this, `${definition.id}Dlq`, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: props.encryptionKey,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      NagSuppressions.addResourceSuppressions(deadLetterQueue, [
        {
          id: 'AwsSolutions-SQS3',
          reason: `This queue is the dead-letter queue of the ${definition.destinationType} deltas queue.`,
        },
      ]);
      const queue = new sqs.Queue(this, definition.id, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: props.encryptionKey,
        enforceSSL: true,
        retentionPeriod: Duration.days(definition.retentionDays),
        visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: definition.maxReceiveCount },
      });
      return { definition, queue, deadLetterQueue };
    });
  }

  /** The queue URLs the delta sink needs, under the variable names the definitions give. */
  environment(): Record<string, string> {
    return Object.fromEntries(this.queues.map((q) => [q.definition.envVar, q.queue.queueUrl]));
  }

  grantPublish(grantee: iam.IGrantable): void {
    for (const q of this.queues) q.queue.grantSendMessages(grantee);
  }
}
