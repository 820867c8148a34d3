import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface EncryptionProps {
  readonly removalPolicy: RemovalPolicy;
}

/**
 * One customer-managed KMS key for all customer data at rest (stream, tables, lake, queues, logs).
 * One key keeps grants and audit simple; every consumer is granted only the operations it needs.
 */
export class Encryption extends Construct {
  readonly dataKey: kms.Key;

  constructor(scope: Construct, id: string, props: EncryptionProps) {
    super(scope, id);
    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'CDP customer data at rest',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy: props.removalPolicy,
    });
  }
}
