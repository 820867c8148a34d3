import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { EVENTS_STREAM } from '../../resources/streams.js';

export interface EventStreamProps {
  readonly encryptionKey: kms.IKey;
  readonly mode: 'ON_DEMAND' | 'PROVISIONED';
  readonly shardCount: number;
  readonly retentionHours: number;
  readonly removalPolicy: RemovalPolicy;
}

/** The events stream between the collector and every consumer (profiles, lake). */
export class EventStream extends Construct {
  readonly stream: kinesis.Stream;

  constructor(scope: Construct, id: string, props: EventStreamProps) {
    super(scope, id);
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode: props.mode === 'ON_DEMAND' ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
      shardCount: props.mode === 'PROVISIONED' ? props.shardCount : undefined,
      retentionPeriod: Duration.hours(props.retentionHours),
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
    });
  }

  /** Environment a function needs to find the stream. */
  environment(): Record<string, string> {
    return { [EVENTS_STREAM.envVar]: this.stream.streamName };
  }

  grantWrite(grantee: iam.IGrantable): void {
    this.stream.grantWrite(grantee);
  }

  /** ListShards, GetShardIterator and GetRecords (the console's event debugger), plus decrypting. */
  grantRead(grantee: iam.IGrantable): void {
    this.stream.grantRead(grantee);
  }
}
