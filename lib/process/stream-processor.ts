import { Duration } from 'aws-cdk-lib';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StreamConsumerDefinition } from '../../resources/functions/types.js';
import { NagSuppressions } from '../shared/nag.js';

export interface StreamSubscriptionProps {
  readonly consumer: StreamConsumerDefinition;
  readonly fn: lambda.IFunction;
  readonly stream: kinesis.IStream;
  readonly encryptionKey: kms.IKey;
}

/**
 * Wires a stream consumer the way failures stay visible: partial batch responses, bisect on error,
 * bounded retries, and an encrypted SQS on-failure destination that keeps the batch coordinates.
 */
export class StreamSubscription extends Construct {
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: StreamSubscriptionProps) {
    super(scope, id);
    const { consumer } = props;
    this.deadLetterQueue = new sqs.Queue(this, 'OnFailure', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the on-failure destination (DLQ) of the stream consumer.',
      },
    ]);
    props.fn.addEventSource(
      new KinesisEventSource(props.stream, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: consumer.batchSize,
        maxBatchingWindow: Duration.seconds(consumer.maxBatchingWindowSeconds),
        parallelizationFactor: consumer.parallelizationFactor,
        bisectBatchOnError: consumer.bisectBatchOnError,
        reportBatchItemFailures: true,
        retryAttempts: consumer.retryAttempts,
        maxRecordAge: Duration.hours(24),
        onFailure: new SqsDlq(this.deadLetterQueue),
      }),
    );
  }
}
